# Finds SOCI (Debian: libsoci-dev), which ships no CMake config.
# Components: core (always), sqlite3, postgresql, mysql.
# Provides SOCI::core and SOCI::<component>; SOCI::postgresql carries libpq's include
# directory because <soci/postgresql/soci-postgresql.h> includes <libpq-fe.h>.
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
    REQUIRED_VARS SOCI_INCLUDE_DIR SOCI_core_LIBRARY
    VERSION_VAR SOCI_VERSION
    HANDLE_COMPONENTS)

if(SOCI_FOUND AND NOT TARGET SOCI::core)
    add_library(SOCI::core UNKNOWN IMPORTED)
    set_target_properties(SOCI::core PROPERTIES
        IMPORTED_LOCATION "${SOCI_core_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${SOCI_INCLUDE_DIR}")
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
