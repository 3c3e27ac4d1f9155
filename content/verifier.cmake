# The verifier and the bundle format (docs/verifier.md, docs/bundle-format.md).
vigil_library(vigil_verifier SRCS verifier.cc DEPS vigil_content_ir PkgConfig::RE2)
vigil_test(verifier_test SRCS verifier_test.cc DEPS vigil_verifier)
