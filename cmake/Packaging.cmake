# The Debian package: `cpack -G DEB` (or `ninja package`) in the build tree
# makes certswap_<version>_<arch>.deb (README "Install"; tested by
# tests/deploy/package/). Installed layout, under CPACK_PACKAGING_INSTALL_PREFIX /usr:
#   bin/certswap
#   lib/<multiarch>/certswap/libcertswap-preload.so  (where `certswap exec` looks)
#   share/certswap/certswap-agent.jar                 (plugins/java-agent, with a JDK)
#   lib/systemd/system/certswap{,-rotate}.service, certswap-rotate.timer
#   lib/sysusers.d/certswap.conf
#   share/man/man1/certswap.1.gz                      (help2man, from --help)
#   share/doc/certswap/{README.md,copyright,changelog.gz,examples/}
# and /etc/certswap/certswap.env (a conffile: the target the units read).
# deploy/docker/Dockerfile makes this package too and unpacks it into the image:
# its build stage configures once without deploy/ (the binaries only, cached),
# then again with README.md and deploy/{debian,examples,systemd}.
include(GNUInstallDirs)
set(_deploy ${PROJECT_SOURCE_DIR}/deploy)
set(_pkg ${PROJECT_BINARY_DIR}/package)
set(CERTSWAP_PACKAGE_PREFIX /usr)
set(CERTSWAP_DOCDIR ${CMAKE_INSTALL_DATAROOTDIR}/doc/certswap)

if(EXISTS ${_deploy}/systemd/certswap.service)
  # The units name /usr/local/bin/certswap (a hand install); the package's are /usr/bin.
  foreach(unit certswap.service certswap-rotate.service certswap-rotate.timer)
    file(READ ${_deploy}/systemd/${unit} _text)
    string(REPLACE "/usr/local/bin/certswap" "${CERTSWAP_PACKAGE_PREFIX}/bin/certswap" _text "${_text}")
    # The package has the man page (systemd-analyze verify, deploy.systemd, would
    # miss it in a source tree).
    string(REGEX REPLACE "\n(Description=[^\n]*)\n" "\n\\1\nDocumentation=man:certswap(1)\n"
           _text "${_text}")
    file(CONFIGURE OUTPUT ${_pkg}/systemd/${unit} CONTENT "${_text}" @ONLY)
    set_property(DIRECTORY ${PROJECT_SOURCE_DIR} APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS
                 ${_deploy}/systemd/${unit})
    install(FILES ${_pkg}/systemd/${unit} DESTINATION lib/systemd/system)
  endforeach()
  install(FILES ${_deploy}/systemd/certswap.sysusers DESTINATION lib/sysusers.d
          RENAME certswap.conf)
  install(FILES ${_deploy}/systemd/certswap.env DESTINATION /etc/certswap)
  install(FILES ${PROJECT_SOURCE_DIR}/README.md ${_deploy}/debian/copyright
          DESTINATION ${CERTSWAP_DOCDIR})
  install(FILES ${_deploy}/examples/certswap.json ${_deploy}/systemd/certswap.env
          DESTINATION ${CERTSWAP_DOCDIR}/examples)

  # changelog.gz (a native package: no Debian revision): lintian wants one;
  # the version and commit are the news.
  find_program(GZIP_EXECUTABLE gzip REQUIRED)
  string(TIMESTAMP _date "%a, %d %b %Y %H:%M:%S +0000" UTC)
  file(WRITE ${_pkg}/changelog
       "certswap (${CERTSWAP_DEB_VERSION}) unstable; urgency=medium\n\n"
       "  * Built by CPack from commit ${CERTSWAP_COMMIT}.\n\n"
       " -- certswap maintainers <certswap@example.org>  ${_date}\n")
  execute_process(COMMAND ${GZIP_EXECUTABLE} -9nf ${_pkg}/changelog)
  install(FILES ${_pkg}/changelog.gz DESTINATION ${CERTSWAP_DOCDIR})

  # The man page, from `certswap --help`, each `certswap <command> --help`
  # (ManCommands.cmake) and --version at build time.
  find_program(HELP2MAN_EXECUTABLE help2man)
  if(HELP2MAN_EXECUTABLE AND TARGET certswap)
    add_custom_command(
      OUTPUT ${_pkg}/certswap.1.gz
      COMMAND ${CMAKE_COMMAND} -DCERTSWAP=$<TARGET_FILE:certswap> -DOUT=${_pkg}/commands.h2m
              -P ${PROJECT_SOURCE_DIR}/cmake/ManCommands.cmake
      COMMAND ${HELP2MAN_EXECUTABLE} --no-info --no-discard-stderr --include ${_pkg}/commands.h2m
              --name "keep Aiven for Apache Kafka client certificates fresh"
              --section 1 --output ${_pkg}/certswap.1 $<TARGET_FILE:certswap>
      COMMAND ${GZIP_EXECUTABLE} -9nf ${_pkg}/certswap.1
      DEPENDS certswap ${PROJECT_SOURCE_DIR}/cmake/ManCommands.cmake VERBATIM)
    add_custom_target(certswap-man ALL DEPENDS ${_pkg}/certswap.1.gz)
    install(FILES ${_pkg}/certswap.1.gz DESTINATION ${CMAKE_INSTALL_MANDIR}/man1)
  else()
    message(WARNING "help2man not found (deploy/install-deps.sh installs it): the package has no man page")
  endif()
endif()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME certswap)
set(CPACK_PACKAGE_VERSION ${CERTSWAP_DEB_VERSION})
set(CPACK_PACKAGE_CONTACT "certswap maintainers <certswap@example.org>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY
    "keeps Aiven for Apache Kafka client certificates fresh")
set(CPACK_DEBIAN_PACKAGE_DESCRIPTION
    "certswap fetches the client certificate of an Aiven for Apache Kafka
service user, validates it (offline and against the broker), swaps it into
place atomically and tells the application, before the old one expires.
It runs once (rotate, a systemd timer), as a service (run, with health and
Prometheus metrics) or as an init container and sidecar, and ships a preload
library that lets unmodified OpenSSL applications reload the new set.")
set(CPACK_PACKAGING_INSTALL_PREFIX ${CERTSWAP_PACKAGE_PREFIX})
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
# /etc/certswap/certswap.env is the admin's: dpkg keeps their edits and purge removes it.
# postinst: systemd-sysusers and daemon-reload where systemd runs; postrm: daemon-reload.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA ${_deploy}/debian/conffiles ${_deploy}/debian/postinst
    ${_deploy}/debian/postrm)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_PACKAGE_FILE_NAME certswap)  # unused with DEB-DEFAULT, keeps _CPack_Packages tidy
set(CPACK_OUTPUT_FILE_PREFIX ${PROJECT_BINARY_DIR}/packages)
include(CPack)
