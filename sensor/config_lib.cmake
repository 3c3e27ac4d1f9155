# vigil_sensor_config: the config parser alone, so the fuzz build (where
# sensor/CMakeLists.txt stops early) can build it without httplib or sinks.
# Included from sensor/io.cmake and sensor/fuzz/CMakeLists.txt.
if(TARGET vigil_sensor_config)
  return()
endif()
# Only the headers: config.cc compiles toml++ header-only with exceptions off
# (see there). Linking tomlplusplus::tomlplusplus would force
# TOML_HEADER_ONLY=0 and Debian's exception-mode shared library.
find_package(tomlplusplus REQUIRED)
get_target_property(VIGIL_TOMLPP_INCLUDE tomlplusplus::tomlplusplus INTERFACE_INCLUDE_DIRECTORIES)
vigil_library(vigil_sensor_config SRCS ${CMAKE_CURRENT_LIST_DIR}/config.cc DEPS vigil_base)
target_include_directories(vigil_sensor_config SYSTEM PRIVATE ${VIGIL_TOMLPP_INCLUDE})
