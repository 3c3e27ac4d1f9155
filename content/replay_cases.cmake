# End-to-end content test through the CLI (content/replay_cases_test.cc):
# default rules and their cases, hand-written SigmaHQ cases, sample replay.
# It runs the vigil binary from VIGIL_BIN_DIR, so it depends on that target;
# the dependency is added at the end of configuration because cli/ is added
# after content/.
vigil_test(replay_cases_test SRCS replay_cases_test.cc DEPS nlohmann_json::nlohmann_json LABELS e2e)

function(_vigil_replay_cases_depend)
  if(TARGET replay_cases_test AND TARGET vigil)
    add_dependencies(replay_cases_test vigil)
  endif()
endfunction()
if(TARGET replay_cases_test)
  cmake_language(DEFER DIRECTORY ${CMAKE_SOURCE_DIR} CALL _vigil_replay_cases_depend)
endif()
