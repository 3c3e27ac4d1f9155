# vigild: the daemon wiring, its binary and its live tests.
vigil_library(vigil_daemon SRCS daemon.cc
  DEPS vigil_sensor_core vigil_sensor_io vigil_bundle_file vigil_engine vigil_builtin_content
       vigil_source_ebpf vigil_source_fanotify)
vigil_binary(vigild SRCS vigild_main.cc DEPS vigil_daemon CLI11::CLI11)
vigil_test(vigild_test SRCS vigild_test.cc DEPS nlohmann_json::nlohmann_json LABELS live TIMEOUT 180)
add_dependencies(vigild_test vigild vigil)

# The .deb carries the binaries, unit, config and default content.
add_test(NAME package_deb
         COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${CMAKE_BINARY_DIR} -P ${PROJECT_SOURCE_DIR}/cmake/CheckPackage.cmake)
set_tests_properties(package_deb PROPERTIES TIMEOUT 600 LABELS package)
