# vigild: the worker's content levels, the daemon wiring, its binaries and
# their live tests.
vigil_library(vigil_worker_content SRCS worker_content.cc
  DEPS vigil_content_store vigil_update vigil_bundle_file vigil_engine vigil_builtin_content vigil_supervisor)
vigil_library(vigil_enforcement SRCS enforcement.cc DEPS vigil_engine vigil_verifier)
vigil_test(enforcement_test SRCS enforcement_test.cc DEPS vigil_enforcement vigil_compiler)
vigil_library(vigil_daemon SRCS daemon.cc
  DEPS vigil_worker_content vigil_sensor_core vigil_sensor_io vigil_source_ebpf vigil_source_fanotify
       vigil_update_agent vigil_enforcement vigil_responder)

# The fault-injection hook is a link-time choice: vigild links the empty one,
# the test-only vigild-faults the hooks (sensor/fault_injection.h). Both are
# sources of the executables, not of a library, so the choice cannot leak.
vigil_binary(vigild SRCS vigild_main.cc fault_injection_none.cc DEPS vigil_daemon vigil_supervisor CLI11::CLI11)
if(NOT VIGIL_FUZZ)
  vigil_binary(vigild-faults SRCS vigild_main.cc fault_injection_hooks.cc
    DEPS vigil_daemon vigil_supervisor CLI11::CLI11)
endif()

vigil_test(vigild_test SRCS vigild_test.cc DEPS nlohmann_json::nlohmann_json LABELS live TIMEOUT 180)
add_dependencies(vigild_test vigild vigil)
vigil_test(vigild_safety_test SRCS vigild_safety_test.cc
  DEPS vigil_content_store vigil_bundle vigil_update nlohmann_json::nlohmann_json PkgConfig::HTTPLIB LABELS live TIMEOUT 400)
add_dependencies(vigild_safety_test vigild vigild-faults vigil)
vigil_test(vigild_enforce_test SRCS vigild_enforce_test.cc DEPS nlohmann_json::nlohmann_json LABELS live TIMEOUT 240)
add_dependencies(vigild_enforce_test vigild vigil)

# The .deb carries the binaries, unit, config and default content.
add_test(NAME package_deb
         COMMAND ${CMAKE_COMMAND} -DBUILD_DIR=${CMAKE_BINARY_DIR} -P ${PROJECT_SOURCE_DIR}/cmake/CheckPackage.cmake)
set_tests_properties(package_deb PROPERTIES TIMEOUT 600 LABELS package)
