# vigil_content_store: the on-host content store (slots, quarantine, state
# file, lock) behind the StoreFs interface; docs/content-store.md.
# Included from sensor/CMakeLists.txt and sensor/fuzz/CMakeLists.txt (the
# state parser's fuzzer), so it guards against a second inclusion.
if(TARGET vigil_content_store)
  return()
endif()
vigil_library(vigil_content_store
  SRCS ${CMAKE_CURRENT_LIST_DIR}/store_fs.cc ${CMAKE_CURRENT_LIST_DIR}/content_store.cc
  DEPS vigil_base)

if(NOT VIGIL_FUZZ)
  # Test-only: the in-memory file system with fault injection and power cuts.
  vigil_library(vigil_mem_store_fs SRCS ${CMAKE_CURRENT_LIST_DIR}/testing/mem_store_fs.cc DEPS vigil_content_store)
endif()
vigil_test(content_store_test SRCS ${CMAKE_CURRENT_LIST_DIR}/content_store_test.cc
  DEPS vigil_content_store vigil_mem_store_fs)
