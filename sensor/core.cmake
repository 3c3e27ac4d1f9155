# vigil_sensor_core: the process table, the event builder (RawEvent + table ->
# schema event, replay-format JSON), shadow evaluation's verdict and the
# bounded queue's tests.
vigil_library(vigil_sensor_core
  SRCS ${CMAKE_CURRENT_LIST_DIR}/process_table.cc ${CMAKE_CURRENT_LIST_DIR}/event_builder.cc
       ${CMAKE_CURRENT_LIST_DIR}/shadow.cc
  DEPS vigil_schema vigil_base)

vigil_test(process_table_test SRCS ${CMAKE_CURRENT_LIST_DIR}/process_table_test.cc DEPS vigil_sensor_core)
vigil_test(event_builder_test SRCS ${CMAKE_CURRENT_LIST_DIR}/event_builder_test.cc
  DEPS vigil_sensor_core vigil_replay vigil_alloc_counter)
vigil_test(bounded_queue_test SRCS ${CMAKE_CURRENT_LIST_DIR}/bounded_queue_test.cc DEPS vigil_sensor_core vigil_alloc_counter)
vigil_test(shadow_test SRCS ${CMAKE_CURRENT_LIST_DIR}/shadow_test.cc DEPS vigil_sensor_core)
