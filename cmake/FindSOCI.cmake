# Finds SOCI (Debian: libsoci-dev), which ships no CMake config.
# Components: core (always), sqlite3, postgresql, mysql.
# Provides SOCI::core and SOCI::<component>; SOCI::postgresql carries libpq's include
# directory because <soci/postgresql/soci-postgresql.h> includes <libpq-fe.h>.
# A SOCI built with Boost support (Debian's: soci-config.h defines SOCI_HAVE_BOOST)
# includes Boost's headers from <soci/soci.h>, though libsoci-dev does not depend on
# them: SOCI::core then carries Boost::headers, and SOCI is not found without them.
find_path(SOCI_INCLUDE_DIR NAMES soci/soci.h)
find_library(SOCI_core_LIBRARY NAMES soci_core)
if(SOCI_INCLUDE_DIR AND EXISTS "${SOCI_INCLUDE_DIR}/soci/version.h")
    file(STRINGS "${SOCI_INCLUDE_DIR}/soci/version.h" _soci_version_line
         REGEX "^#define SOCI_VERSION [0-9]+")
    string(REGEX REPLACE "^#define SOCI_VERSION ([0-9]+).*" "\\1" _soci_version "${_soci_version_line}")
    math(EXPR _soci_major "${_soci_version} / 100000")
    math(EXPR _soci_minor "${_soci_version} / 100 % 1000")
    math(EXPR _soci_patch "${_soci_version} % 100")
    set(SOCI_VERSION "${_soci_major}.${_soci_minor}.${_soci_patch}")
endif()

# Boost's headers, when this SOCI was built to include them.
set(SOCI_NEEDS_BOOST FALSE)
set(_soci_boost_ok TRUE)
set(_soci_failure_message "")
if(SOCI_INCLUDE_DIR AND EXISTS "${SOCI_INCLUDE_DIR}/soci/soci-config.h")
    file(STRINGS "${SOCI_INCLUDE_DIR}/soci/soci-config.h" _soci_have_boost
         REGEX "^#[ \t]*define[ \t]+SOCI_HAVE_BOOST([ \t]|$)")
    if(_soci_have_boost)
        set(SOCI_NEEDS_BOOST TRUE)
        find_package(Boost QUIET CONFIG COMPONENTS headers)
        if(NOT TARGET Boost::headers)
            set(_soci_boost_ok FALSE)
            string(CONCAT _soci_failure_message
                "SOCI's headers include Boost's (SOCI_HAVE_BOOST in soci-config.h), which are "
                "not installed: on Debian, apt-get install libboost-dev")
        endif()
    endif()
endif()

set(_soci_component_vars)
foreach(_component IN LISTS SOCI_FIND_COMPONENTS)
    if(_component STREQUAL "core")
        set(SOCI_core_FOUND TRUE)
        continue()
    endif()
    find_library(SOCI_${_component}_LIBRARY NAMES soci_${_component})
    if(SOCI_${_component}_LIBRARY AND _component STREQUAL "postgresql")
        find_package(PostgreSQL QUIET)
        set(SOCI_postgresql_FOUND ${PostgreSQL_FOUND})
    elseif(SOCI_${_component}_LIBRARY)
        set(SOCI_${_component}_FOUND TRUE)
    endif()
    mark_as_advanced(SOCI_${_component}_LIBRARY)
endforeach()

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(SOCI
    REQUIRED_VARS SOCI_INCLUDE_DIR SOCI_core_LIBRARY _soci_boost_ok
    VERSION_VAR SOCI_VERSION
    HANDLE_COMPONENTS
    REASON_FAILURE_MESSAGE "${_soci_failure_message}")

if(SOCI_FOUND AND NOT TARGET SOCI::core)
    add_library(SOCI::core UNKNOWN IMPORTED)
    set_target_properties(SOCI::core PROPERTIES
        IMPORTED_LOCATION "${SOCI_core_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${SOCI_INCLUDE_DIR}")
    if(SOCI_NEEDS_BOOST)
        set_property(TARGET SOCI::core APPEND PROPERTY INTERFACE_LINK_LIBRARIES Boost::headers)
    endif()
endif()
foreach(_component IN LISTS SOCI_FIND_COMPONENTS)
    if(SOCI_${_component}_FOUND AND NOT TARGET SOCI::${_component})
        add_library(SOCI::${_component} UNKNOWN IMPORTED)
        set_target_properties(SOCI::${_component} PROPERTIES
            IMPORTED_LOCATION "${SOCI_${_component}_LIBRARY}"
            INTERFACE_LINK_LIBRARIES SOCI::core)
        if(_component STREQUAL "postgresql")
            set_property(TARGET SOCI::postgresql APPEND PROPERTY
                INTERFACE_LINK_LIBRARIES PostgreSQL::PostgreSQL)
        endif()
    endif()
endforeach()
mark_as_advanced(SOCI_INCLUDE_DIR SOCI_core_LIBRARY)
unset(_soci_boost_ok)
unset(_soci_failure_message)
