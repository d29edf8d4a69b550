# Installs a built asio_soci into a scratch prefix, then configures, builds and runs the
# consumer project next to this script against that prefix.
#
#   cmake -DBUILD_DIR=<main build dir> -DWORK_DIR=<scratch dir> [-DCONFIG=<config>] -P run.cmake
#
# CONFIG is only needed for multi-config generators. The consumer is configured with the
# main build's generator, C++ compiler, build type and sanitizer flags.
cmake_minimum_required(VERSION 3.25)

foreach(_var IN ITEMS BUILD_DIR WORK_DIR)
    if(NOT DEFINED ${_var} OR "${${_var}}" STREQUAL "")
        message(FATAL_ERROR "run.cmake: pass -D${_var}=...")
    endif()
endforeach()
if(NOT EXISTS "${BUILD_DIR}/CMakeCache.txt")
    message(FATAL_ERROR "run.cmake: ${BUILD_DIR} is not a configured build directory")
endif()

# Reads VAR from the main build's cache into MAIN_<VAR> (empty when absent).
function(read_main_cache var)
    file(STRINGS "${BUILD_DIR}/CMakeCache.txt" _line REGEX "^${var}:[A-Z]+=" LIMIT_COUNT 1)
    string(REGEX REPLACE "^${var}:[A-Z]+=" "" _value "${_line}")
    set(MAIN_${var} "${_value}" PARENT_SCOPE)
endfunction()
foreach(_var IN ITEMS CMAKE_GENERATOR CMAKE_MAKE_PROGRAM CMAKE_CXX_COMPILER CMAKE_BUILD_TYPE
                      ASIO_SOCI_SANITIZE restinio_DIR)
    read_main_cache(${_var})
endforeach()

# Runs a command, echoing it, and stops the script when it fails.
function(run_step name)
    message(STATUS "consumer: ${name}")
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE _result COMMAND_ECHO STDOUT)
    if(NOT _result EQUAL 0)
        message(FATAL_ERROR "consumer: ${name} failed (${_result})")
    endif()
endfunction()

set(_prefix "${WORK_DIR}/prefix")
set(_build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${_prefix}" "${_build}")
file(MAKE_DIRECTORY "${WORK_DIR}")

set(_config_args)
if(DEFINED CONFIG AND NOT CONFIG STREQUAL "")
    set(_config_args --config "${CONFIG}")
endif()

run_step("install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${_prefix}" ${_config_args})

set(_configure_args
    -S "${CMAKE_CURRENT_LIST_DIR}" -B "${_build}"
    "-DCMAKE_PREFIX_PATH=${_prefix}"
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)
if(MAIN_CMAKE_GENERATOR)
    list(APPEND _configure_args -G "${MAIN_CMAKE_GENERATOR}")
endif()
if(MAIN_CMAKE_MAKE_PROGRAM)
    list(APPEND _configure_args "-DCMAKE_MAKE_PROGRAM=${MAIN_CMAKE_MAKE_PROGRAM}")
endif()
if(MAIN_CMAKE_CXX_COMPILER)
    list(APPEND _configure_args "-DCMAKE_CXX_COMPILER=${MAIN_CMAKE_CXX_COMPILER}")
endif()
if(MAIN_CMAKE_BUILD_TYPE)
    list(APPEND _configure_args "-DCMAKE_BUILD_TYPE=${MAIN_CMAKE_BUILD_TYPE}")
endif()
if(MAIN_ASIO_SOCI_SANITIZE)
    # An instrumented static library needs the sanitizer runtime at link time. As in the
    # main build, no vptr checks: Debian's SOCI exports no type information for them.
    set(_flags "-fsanitize=${MAIN_ASIO_SOCI_SANITIZE} -fno-omit-frame-pointer")
    if(MAIN_ASIO_SOCI_SANITIZE MATCHES "undefined")
        string(APPEND _flags " -fno-sanitize=vptr")
    endif()
    list(APPEND _configure_args
        "-DCMAKE_CXX_FLAGS=${_flags}"
        "-DCMAKE_EXE_LINKER_FLAGS=-fsanitize=${MAIN_ASIO_SOCI_SANITIZE}")
endif()
if(MAIN_restinio_DIR AND NOT MAIN_restinio_DIR MATCHES "NOTFOUND$")
    list(APPEND _configure_args -DCONSUMER_WITH_RESTINIO=ON)
endif()
run_step("configure" "${CMAKE_COMMAND}" ${_configure_args})
run_step("build" "${CMAKE_COMMAND}" --build "${_build}" ${_config_args})

set(_program "${_build}/consumer")
if(_config_args AND EXISTS "${_build}/${CONFIG}/consumer")
    set(_program "${_build}/${CONFIG}/consumer")
endif()
message(STATUS "consumer: run")
execute_process(COMMAND "${_program}" RESULT_VARIABLE _result OUTPUT_VARIABLE _output
                ERROR_VARIABLE _error)
message(STATUS "consumer output: ${_output}${_error}")
if(NOT _result EQUAL 0)
    message(FATAL_ERROR "consumer: program failed (${_result})")
endif()
if(NOT _output MATCHES "sqlite:// 42\n")  # after the library's log lines (stdout)
    message(FATAL_ERROR "consumer: unexpected output '${_output}'")
endif()

# Without Boost's headers (which Debian's SOCI headers include), the package must fail
# at configure time, naming the Debian package, rather than deep inside SOCI's headers
# at compile time.
set(_no_boost_args ${_configure_args})
list(TRANSFORM _no_boost_args REPLACE "^${_build}$" "${WORK_DIR}/build-without-boost")
file(REMOVE_RECURSE "${WORK_DIR}/build-without-boost")
message(STATUS "consumer: configure without Boost")
execute_process(COMMAND "${CMAKE_COMMAND}" ${_no_boost_args} -DCMAKE_DISABLE_FIND_PACKAGE_Boost=ON
                RESULT_VARIABLE _result OUTPUT_VARIABLE _output ERROR_VARIABLE _error)
if(_result EQUAL 0 OR NOT "${_output}${_error}" MATCHES "apt-get install libboost-dev")
    message(FATAL_ERROR "consumer: without Boost, configuring must fail and name libboost-dev; "
                        "got (${_result}): ${_output}${_error}")
endif()
message(STATUS "consumer: OK")
