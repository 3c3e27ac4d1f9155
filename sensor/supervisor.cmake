# The supervisor (docs/supervisor.md).
#   vigil_worker_protocol  the line protocol both processes speak; the fuzz
#                          preset builds it too (sensor/fuzz/CMakeLists.txt
#                          includes this fragment), so it guards a second inclusion
#   vigil_supervisor       the crash policy and the supervising loop
#   fake_worker            test-only worker for supervisor_test (never installed)
if(NOT TARGET vigil_worker_protocol)
  vigil_library(vigil_worker_protocol SRCS ${CMAKE_CURRENT_LIST_DIR}/worker_protocol.cc DEPS vigil_base)
endif()
if(VIGIL_FUZZ OR TARGET vigil_supervisor)
  return()
endif()

vigil_library(vigil_supervisor
  SRCS ${CMAKE_CURRENT_LIST_DIR}/crash_policy.cc ${CMAKE_CURRENT_LIST_DIR}/supervisor.cc
  DEPS vigil_worker_protocol vigil_content_store vigil_base)

vigil_test(worker_protocol_test SRCS ${CMAKE_CURRENT_LIST_DIR}/worker_protocol_test.cc DEPS vigil_worker_protocol)
vigil_test(crash_policy_test SRCS ${CMAKE_CURRENT_LIST_DIR}/crash_policy_test.cc DEPS vigil_supervisor)

vigil_binary(fake_worker SRCS ${CMAKE_CURRENT_LIST_DIR}/testing/fake_worker.cc
  DEPS vigil_worker_protocol vigil_content_store vigil_base)
set_target_properties(fake_worker PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
vigil_test(supervisor_test SRCS ${CMAKE_CURRENT_LIST_DIR}/supervisor_test.cc
  DEPS vigil_supervisor vigil_content_store TIMEOUT 300)
target_compile_definitions(supervisor_test PRIVATE VIGIL_FAKE_WORKER="$<TARGET_FILE:fake_worker>")
add_dependencies(supervisor_test fake_worker)
