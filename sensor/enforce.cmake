# Enforcement: the fanotify permission responder (docs/enforce.md).
#   vigil_responder  the responder (reads and answers permission events), its
#                    evaluator and the permission context builder. It calls
#                    InjectedDecisionDelay (sensor/fault_injection.h): the
#                    executable links fault_injection_none.cc (vigild, the
#                    benchmark driver) or fault_injection_hooks.cc (tests).
#   responder_test   live tests (root; marks only a tmpfs each test mounts)
#                    and the unit tests; responder_unit_test runs the unit
#                    tests alone, outside the `live` label.
vigil_library(vigil_responder
  SRCS ${CMAKE_CURRENT_LIST_DIR}/permission_context.cc ${CMAKE_CURRENT_LIST_DIR}/responder.cc
  DEPS vigil_sensor_core vigil_engine vigil_source_fanotify vigil_content_ir vigil_base)

vigil_test(responder_test
  SRCS ${CMAKE_CURRENT_LIST_DIR}/responder_test.cc ${CMAKE_CURRENT_LIST_DIR}/fault_injection_hooks.cc
  DEPS vigil_responder vigil_compiler LABELS live TIMEOUT 300)
if(TARGET responder_test)
  add_test(NAME responder_unit_test COMMAND responder_test --gtest_filter=ResponderUnit.*)
  set_tests_properties(responder_unit_test PROPERTIES TIMEOUT 60)
endif()
