# Finds the C++ Actor Framework (Debian ships headers and libraries but no CMake
# config or pkg-config file). Defines CAF::core, CAF::io and CAF::openssl for
# the components asked for (core always).
#
# The targets are GLOBAL: a component asked for in one folder (openssl, in
# coordinator/) stays visible to the folders whose targets link that folder's
# libraries. CAF::openssl also carries OpenSSL's libssl and libcrypto, which
# code using CAF's OpenSSL module needs for its own checks of certificates.
find_package(Threads REQUIRED)
find_path(CAF_INCLUDE_DIR NAMES caf/config.hpp)
if(CAF_INCLUDE_DIR AND EXISTS "${CAF_INCLUDE_DIR}/caf/config.hpp")
  file(STRINGS "${CAF_INCLUDE_DIR}/caf/config.hpp" _caf_ver_line
       REGEX "^#define CAF_VERSION [0-9]+")
  string(REGEX REPLACE "^#define CAF_VERSION ([0-9]+).*" "\\1" _caf_ver "${_caf_ver_line}")
  if(_caf_ver)
    math(EXPR _caf_major "${_caf_ver} / 10000")
    math(EXPR _caf_minor "(${_caf_ver} / 100) % 100")
    math(EXPR _caf_patch "${_caf_ver} % 100")
    set(CAF_VERSION "${_caf_major}.${_caf_minor}.${_caf_patch}")
  endif()
endif()
set(_caf_comps core ${CAF_FIND_COMPONENTS})
list(REMOVE_DUPLICATES _caf_comps)
foreach(comp IN LISTS _caf_comps)
  find_library(CAF_${comp}_LIBRARY NAMES caf_${comp})
  if(CAF_${comp}_LIBRARY)
    set(CAF_${comp}_FOUND TRUE)
    list(APPEND CAF_LIBRARIES ${CAF_${comp}_LIBRARY})
    if(NOT TARGET CAF::${comp})
      add_library(CAF::${comp} UNKNOWN IMPORTED GLOBAL)
      set_target_properties(CAF::${comp} PROPERTIES
        IMPORTED_LOCATION "${CAF_${comp}_LIBRARY}"
        INTERFACE_INCLUDE_DIRECTORIES "${CAF_INCLUDE_DIR}"
        INTERFACE_LINK_LIBRARIES Threads::Threads)
      if(NOT comp STREQUAL "core")
        set_property(TARGET CAF::${comp} APPEND PROPERTY INTERFACE_LINK_LIBRARIES CAF::core)
      endif()
      if(comp STREQUAL "openssl")
        find_package(OpenSSL QUIET)
        if(OPENSSL_FOUND)
          # Full paths, not OpenSSL::SSL: that target is local to this folder.
          set_property(TARGET CAF::openssl APPEND PROPERTY INTERFACE_LINK_LIBRARIES
            CAF::io ${OPENSSL_SSL_LIBRARY} ${OPENSSL_CRYPTO_LIBRARY})
          set_property(TARGET CAF::openssl APPEND PROPERTY INTERFACE_INCLUDE_DIRECTORIES
            ${OPENSSL_INCLUDE_DIR})
        else()
          # Without OpenSSL's development files the component is unusable.
          set(CAF_openssl_FOUND FALSE)
        endif()
      endif()
    endif()
  endif()
endforeach()
include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(CAF REQUIRED_VARS CAF_INCLUDE_DIR
  VERSION_VAR CAF_VERSION HANDLE_COMPONENTS)
