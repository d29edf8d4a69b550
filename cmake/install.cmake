# Install rules and the CMake package asio_soci, so that another project can do
#   find_package(asio_soci REQUIRED)
#   target_link_libraries(app PRIVATE asio_soci::asio_soci)
# Included from the top-level CMakeLists.txt after the asio_soci target is defined.

include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

option(ASIO_SOCI_INSTALL "Generate the install rules for asio_soci" ${PROJECT_IS_TOP_LEVEL})
if(NOT ASIO_SOCI_INSTALL)
    return()
endif()

set(ASIO_SOCI_INSTALL_CMAKEDIR "${CMAKE_INSTALL_LIBDIR}/cmake/asio_soci"
    CACHE STRING "Where to install asio_sociConfig.cmake, relative to the prefix")
mark_as_advanced(ASIO_SOCI_INSTALL_CMAKEDIR)

install(TARGETS asio_soci
    EXPORT asio_sociTargets
    ARCHIVE DESTINATION "${CMAKE_INSTALL_LIBDIR}"
    LIBRARY DESTINATION "${CMAKE_INSTALL_LIBDIR}"
    RUNTIME DESTINATION "${CMAKE_INSTALL_BINDIR}"
    # Puts <prefix>/include on the exported target's include path whatever
    # $<INSTALL_INTERFACE:...> in target_include_directories() expanded to.
    INCLUDES DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

install(DIRECTORY "${PROJECT_SOURCE_DIR}/include/asio_soci"
    DESTINATION "${CMAKE_INSTALL_INCLUDEDIR}")

install(EXPORT asio_sociTargets
    NAMESPACE asio_soci::
    FILE asio_sociTargets.cmake
    DESTINATION "${ASIO_SOCI_INSTALL_CMAKEDIR}")

# The optional RESTinio component has an export set of its own, which the package config
# loads only when the consumer finds RESTinio too.
if(TARGET asio_soci_restinio)
    install(TARGETS asio_soci_restinio EXPORT asio_soci_restinioTargets)
    install(EXPORT asio_soci_restinioTargets
        NAMESPACE asio_soci::
        FILE asio_soci_restinioTargets.cmake
        DESTINATION "${ASIO_SOCI_INSTALL_CMAKEDIR}")
endif()

configure_package_config_file(
    "${CMAKE_CURRENT_LIST_DIR}/asio_sociConfig.cmake.in"
    "${PROJECT_BINARY_DIR}/asio_sociConfig.cmake"
    INSTALL_DESTINATION "${ASIO_SOCI_INSTALL_CMAKEDIR}")
write_basic_package_version_file(
    "${PROJECT_BINARY_DIR}/asio_sociConfigVersion.cmake"
    VERSION "${PROJECT_VERSION}"
    COMPATIBILITY SameMajorVersion)

install(FILES
    "${PROJECT_BINARY_DIR}/asio_sociConfig.cmake"
    "${PROJECT_BINARY_DIR}/asio_sociConfigVersion.cmake"
    "${CMAKE_CURRENT_LIST_DIR}/FindAsio.cmake"
    "${CMAKE_CURRENT_LIST_DIR}/FindSOCI.cmake"
    "${CMAKE_CURRENT_LIST_DIR}/asio_soci_embed_migrations.cmake"
    DESTINATION "${ASIO_SOCI_INSTALL_CMAKEDIR}")
