# Build helpers: one library per folder, warnings and instruction-set flags in one place.

function(actgrid_flags target)
  target_compile_options(${target} PRIVATE -Wall -Wextra -Wpedantic -Wno-sign-compare -ffp-contract=fast -fno-math-errno
                         $<$<CXX_COMPILER_ID:GNU>:-Wno-maybe-uninitialized -Wno-psabi>)
  if(ACTGRID_NATIVE)
    target_compile_options(${target} PRIVATE -march=native)
  endif()
endfunction()

# actgrid_library(NAME name DEPS dep...) builds every *.cc of the calling folder
# except main.cc into the static library actgrid_<name>, aliased actgrid::<name>.
function(actgrid_library)
  cmake_parse_arguments(ARG "" "NAME" "DEPS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  list(FILTER srcs EXCLUDE REGEX "/main\\.cc$")
  add_library(actgrid_${ARG_NAME} STATIC ${srcs})
  add_library(actgrid::${ARG_NAME} ALIAS actgrid_${ARG_NAME})
  target_include_directories(actgrid_${ARG_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
  target_link_libraries(actgrid_${ARG_NAME} PUBLIC ${ARG_DEPS})
  actgrid_flags(actgrid_${ARG_NAME})
endfunction()

# actgrid_test(NAME name DEPS dep...) builds tests/<folder>/*.cc into one
# GoogleTest binary and registers its tests with CTest.
function(actgrid_test)
  cmake_parse_arguments(ARG "" "NAME" "DEPS" ${ARGN})
  file(GLOB srcs CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cc)
  if(NOT srcs)
    message(FATAL_ERROR "tests/${ARG_NAME} has no test sources")
  endif()
  add_executable(${ARG_NAME}_test ${srcs})
  target_link_libraries(${ARG_NAME}_test PRIVATE ${ARG_DEPS} GTest::gtest GTest::gtest_main)
  target_compile_definitions(${ARG_NAME}_test PRIVATE ACTGRID_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
  actgrid_flags(${ARG_NAME}_test)
  gtest_discover_tests(${ARG_NAME}_test DISCOVERY_TIMEOUT 60 PROPERTIES TIMEOUT 300)
endfunction()
