# The verifier and the bundle format (docs/verifier.md, docs/bundle-format.md).
vigil_library(vigil_verifier SRCS verifier.cc decision_fields.cc DEPS vigil_content_ir PkgConfig::RE2)
vigil_test(verifier_test SRCS verifier_test.cc DEPS vigil_verifier)
vigil_test(decision_fields_test SRCS decision_fields_test.cc DEPS vigil_verifier)
vigil_library(vigil_bundle SRCS bundle_writer.cc bundle_reader.cc DEPS vigil_verifier PkgConfig::SODIUM)
vigil_test(bundle_test SRCS bundle_test.cc DEPS vigil_bundle)
vigil_test(field_count_regression_test SRCS field_count_regression_test.cc DEPS vigil_bundle)
vigil_fuzzer(bundle_reader_fuzzer SRCS fuzz/bundle_reader_fuzzer.cc DEPS vigil_bundle CORPUS fuzz/bundle_reader_corpus)
