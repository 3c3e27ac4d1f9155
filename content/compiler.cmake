# The Sigma compiler front end (docs/sigma.md): reader -> condition parser ->
# lower -> verifier, plus the pretty printer used by `vigil content inspect`.
vigil_library(vigil_compiler
  SRCS sigma_reader.cc condition_parser.cc lower.cc compiler.cc pretty.cc
  DEPS vigil_content_ir vigil_verifier yaml-cpp PkgConfig::RE2)

vigil_test(sigma_reader_test SRCS sigma_reader_test.cc DEPS vigil_compiler)
vigil_test(condition_parser_test SRCS condition_parser_test.cc DEPS vigil_compiler)
vigil_test(lower_test SRCS lower_test.cc DEPS vigil_compiler)
vigil_test(pretty_test SRCS pretty_test.cc DEPS vigil_compiler)
vigil_test(compiler_test SRCS compiler_test.cc DEPS vigil_compiler)
vigil_test(sigmahq_corpus_test SRCS sigmahq_corpus_test.cc DEPS vigil_compiler LABELS corpus)

# Fuzz preset only (cmake --preset fuzz); crashers found are minimized and
# committed into the corpus directories.
vigil_fuzzer(sigma_reader_fuzzer SRCS fuzz/sigma_reader_fuzzer.cc DEPS vigil_compiler
  CORPUS fuzz/sigma_reader_corpus)
vigil_fuzzer(condition_parser_fuzzer SRCS fuzz/condition_parser_fuzzer.cc DEPS vigil_compiler
  CORPUS fuzz/condition_parser_corpus)
