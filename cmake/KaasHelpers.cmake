# kaas_add_library(NAME DEPS dep...)
# Builds the module in the current folder: sources from src/ (and its subfolders), public
# headers from include/kaas/<module>/.
function(kaas_add_library name)
  cmake_parse_arguments(ARG "" "" "DEPS;PRIVATE_DEPS" ${ARGN})
  file(GLOB_RECURSE srcs CONFIGURE_DEPENDS "${CMAKE_CURRENT_SOURCE_DIR}/src/*.cc")
  add_library(kaas_${name} STATIC ${srcs})
  add_library(kaas::${name} ALIAS kaas_${name})
  target_include_directories(kaas_${name} PUBLIC "${CMAKE_CURRENT_SOURCE_DIR}/include")
  target_link_libraries(kaas_${name} PUBLIC ${ARG_DEPS} PRIVATE ${ARG_PRIVATE_DEPS})
  target_compile_options(kaas_${name} PRIVATE -Wall -Wextra -Wno-unused-parameter)
endfunction()

# kaas_add_test(NAME SOURCES src... DEPS dep... [LABELS l...])
# One GoogleTest binary registered with ctest.
# PROPERTIES: more ctest properties of every discovered test (FIXTURES_REQUIRED, ENVIRONMENT…).
function(kaas_add_test name)
  cmake_parse_arguments(ARG "" "TEST_FILTER" "SOURCES;DEPS;LABELS;PROPERTIES" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_DEPS} kaas_test_status GTest::gtest GTest::gtest_main)
  target_compile_definitions(${name} PRIVATE
    KAAS_BINARY_DIR="${PROJECT_BINARY_DIR}"
    KAAS_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  if(NOT ARG_TEST_FILTER)
    set(ARG_TEST_FILTER "*")
  endif()
  gtest_discover_tests(${name} DISCOVERY_TIMEOUT 30 TEST_FILTER "${ARG_TEST_FILTER}"
    PROPERTIES LABELS "${ARG_LABELS}" ${ARG_PROPERTIES})
endfunction()
