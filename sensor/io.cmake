# vigil_sensor_io: config, alert sinks, metrics (+ HTTP endpoint). Link this
# one; the parts are separate so each builds (and is tested) with only what
# it needs: the config parser alone for the fuzzer, metrics without the
# event builder.
include(${CMAKE_CURRENT_LIST_DIR}/config_lib.cmake)   # vigil_sensor_config

# Debian 12's cpp-httplib is a compiled library (libcpp-httplib.so, built
# with OpenSSL, zlib and brotli); its pkg-config file carries the matching
# CPPHTTPLIB_* defines, which must agree with the library's.
pkg_check_modules(HTTPLIB REQUIRED IMPORTED_TARGET cpp-httplib)
vigil_library(vigil_sensor_metrics SRCS metrics.cc DEPS vigil_sensor_config PkgConfig::HTTPLIB)

vigil_library(vigil_sensor_io SRCS sinks.cc
  DEPS vigil_sensor_config vigil_sensor_metrics vigil_base vigil_content_ir vigil_sensor_core)

vigil_test(config_test SRCS config_test.cc DEPS vigil_sensor_config)
vigil_test(metrics_test SRCS metrics_test.cc DEPS vigil_sensor_metrics)
vigil_test(sinks_test SRCS sinks_test.cc DEPS vigil_sensor_io nlohmann_json::nlohmann_json)
