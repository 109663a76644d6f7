# The version certswap reports (--version, the User-Agent, certswap_build_info)
# and packages as: `git describe --tags --always --dirty` of the source tree at
# configure time, else project()'s VERSION (a tarball without .git).
#   CERTSWAP_VERSION      e.g. 0.2.0, 0.2.0-3-g1a2b3c4-dirty, 0.1.0-ga0dcda8 (no tag yet)
#   CERTSWAP_COMMIT       the full commit hash, or "unknown"
#   CERTSWAP_DEB_VERSION  the same as a Debian version (starts with a digit, no '-')
# A source tree without .git (the container image's build context) gets both
# from the builder: -DCERTSWAP_SOURCE_DESCRIBE=$(git describe --tags --always
# --dirty) -DCERTSWAP_SOURCE_COMMIT=$(git rev-parse HEAD) (the Dockerfile's
# build arguments of the same names).
set(CERTSWAP_SOURCE_DESCRIBE "" CACHE STRING "git describe of a source tree without .git")
set(CERTSWAP_SOURCE_COMMIT "" CACHE STRING "the commit of a source tree without .git")
set(CERTSWAP_VERSION "${PROJECT_VERSION}")
set(CERTSWAP_COMMIT "unknown")
set(_describe_rc 1)
find_package(Git QUIET)
if(GIT_FOUND)
  execute_process(COMMAND ${GIT_EXECUTABLE} describe --tags --always --dirty
                  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR} OUTPUT_VARIABLE _describe
                  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _describe_rc ERROR_QUIET)
  execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse HEAD
                  WORKING_DIRECTORY ${PROJECT_SOURCE_DIR} OUTPUT_VARIABLE _commit
                  OUTPUT_STRIP_TRAILING_WHITESPACE RESULT_VARIABLE _commit_rc ERROR_QUIET)
  if(NOT _commit_rc EQUAL 0)
    set(_describe_rc 1)
  endif()
endif()
if(NOT _describe_rc EQUAL 0 AND CERTSWAP_SOURCE_DESCRIBE AND CERTSWAP_SOURCE_COMMIT)
  set(_describe "${CERTSWAP_SOURCE_DESCRIBE}")
  set(_commit "${CERTSWAP_SOURCE_COMMIT}")
  set(_describe_rc 0)
  set(_from_builder TRUE)
endif()
if(_describe_rc EQUAL 0)
  set(CERTSWAP_COMMIT "${_commit}")
  if(_describe MATCHES "^v?([0-9]+\\.[0-9]+.*)$")
    # A tag: v0.2.0, v0.2.0-3-g1a2b3c4, v0.2.0-dirty (a bare hash can start with a digit too).
    set(CERTSWAP_VERSION "${CMAKE_MATCH_1}")
  else()
    # No tag yet: --always gave the abbreviated hash (and maybe -dirty).
    set(CERTSWAP_VERSION "${PROJECT_VERSION}-g${_describe}")
  endif()
  if(NOT _from_builder)
    # A new commit or checkout configures again, so the version follows HEAD.
    execute_process(COMMAND ${GIT_EXECUTABLE} rev-parse --git-dir --git-common-dir
                    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR} OUTPUT_VARIABLE _git_dirs
                    OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
    string(REPLACE "\n" ";" _git_dirs "${_git_dirs}")
    list(GET _git_dirs 0 _git_dir)
    get_filename_component(_git_dir "${_git_dir}" ABSOLUTE BASE_DIR ${PROJECT_SOURCE_DIR})
    set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
                 "${_git_dir}/HEAD")
    file(READ "${_git_dir}/HEAD" _head)
    if(_head MATCHES "^ref: ([^\n]+)")
      list(GET _git_dirs 1 _common_dir)
      get_filename_component(_common_dir "${_common_dir}" ABSOLUTE BASE_DIR ${PROJECT_SOURCE_DIR})
      if(EXISTS "${_common_dir}/${CMAKE_MATCH_1}")
        set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
                     "${_common_dir}/${CMAKE_MATCH_1}")
      endif()
    endif()
  endif()
endif()
# Debian: 0.1.0-ga0dcda8-dirty -> 0.1.0+ga0dcda8.dirty; 0.2.0-3-g1a2b -> 0.2.0+3.g1a2b.
# (string(FIND)/SUBSTRING: REGEX REPLACE would apply a '^' pattern again after each match.)
set(CERTSWAP_DEB_VERSION "${CERTSWAP_VERSION}")
string(FIND "${CERTSWAP_VERSION}" "-" _dash)
if(_dash GREATER 0)
  string(SUBSTRING "${CERTSWAP_VERSION}" 0 ${_dash} _deb_head)
  math(EXPR _rest_start "${_dash} + 1")
  string(SUBSTRING "${CERTSWAP_VERSION}" ${_rest_start} -1 _deb_tail)
  string(REPLACE "-" "." _deb_tail "${_deb_tail}")
  set(CERTSWAP_DEB_VERSION "${_deb_head}+${_deb_tail}")
endif()
message(STATUS "certswap version ${CERTSWAP_VERSION} (commit ${CERTSWAP_COMMIT})")
