# tasker_component(<name>
#   SOURCES <files...>        library sources (the library is tasker_<name>)
#   DEPS <targets...>         libraries it links publicly
#   TESTS <files...>          doctest files; built into tasker_<name>_tests
#   TEST_DEPS <targets...>    extra libraries for the tests only
#   CAF)                      use the shared CAF precompiled header
#
# One library and one test binary per folder; every doctest case becomes its
# own ctest test, so a crash in one case cannot hide the others.
function(tasker_component name)
  cmake_parse_arguments(TC "CAF" "" "SOURCES;DEPS;TESTS;TEST_DEPS" ${ARGN})
  set(lib tasker_${name})
  if(TC_SOURCES)
    add_library(${lib} STATIC ${TC_SOURCES})
    target_link_libraries(${lib} PUBLIC tasker_options ${TC_DEPS})
    target_include_directories(${lib} PUBLIC ${PROJECT_SOURCE_DIR})
    if(TC_CAF)
      target_precompile_headers(${lib} REUSE_FROM tasker_caf_pch)
    endif()
  else()
    add_library(${lib} INTERFACE)
    target_link_libraries(${lib} INTERFACE tasker_options ${TC_DEPS})
    target_include_directories(${lib} INTERFACE ${PROJECT_SOURCE_DIR})
  endif()
  if(TC_TESTS AND TASKER_BUILD_TESTS)
    add_executable(${lib}_tests ${TC_TESTS})
    target_link_libraries(${lib}_tests PRIVATE ${lib} tasker_test_support ${TC_TEST_DEPS})
    target_precompile_headers(${lib}_tests REUSE_FROM tasker_caf_pch)
    doctest_discover_tests(${lib}_tests
      PROPERTIES ENVIRONMENT "TASKER_SOURCE_DIR=${PROJECT_SOURCE_DIR}")
  endif()
endfunction()
