# Installation layout and the Debian package (CPack DEB): `cpack -G DEB` in the build directory
# writes ef45-gateway_<version>_amd64.deb.
include(GNUInstallDirs)

install(TARGETS ef45-gatewayd ef45ctl ef45-sim RUNTIME DESTINATION bin COMPONENT gateway)
install(FILES deploy/systemd/ef45-gatewayd.service
        DESTINATION lib/systemd/system COMPONENT gateway)
# Both hold secrets (token hashes, the DSN): 0640, group ef45gw set by postinst (the group does
# not exist when the package is built).
install(FILES config/gateway.example.yaml
        DESTINATION /etc/ef45-gateway RENAME gateway.yaml
        PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ COMPONENT gateway)
install(FILES deploy/systemd/ef45-gatewayd.env
        DESTINATION /etc/ef45-gateway PERMISSIONS OWNER_READ OWNER_WRITE GROUP_READ
        COMPONENT gateway)
install(DIRECTORY migrations/ DESTINATION share/ef45-gateway/migrations
        FILES_MATCHING PATTERN "*.sql")
install(FILES README.md config/gateway.example.yaml lib/store/SCHEMA.md
        DESTINATION share/doc/ef45-gateway COMPONENT gateway)

set(CPACK_GENERATOR "DEB")
set(CPACK_PACKAGE_NAME "ef45-gateway")
set(CPACK_PACKAGE_VERSION "${PROJECT_VERSION}")
set(CPACK_PACKAGE_CONTACT "ef45-gateway maintainers <ops@localhost>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Gateway for fleets of Iris ID EF-45 access-control readers")
set(CPACK_PACKAGING_INSTALL_PREFIX "/usr")
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # ef45-gateway_<version>_amd64.deb
set(CPACK_DEBIAN_PACKAGE_SECTION "net")
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)  # the package ships stripped binaries
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "postgresql-15")
# conffiles (kept across upgrades when edited), and the service user on install.
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
    "${CMAKE_CURRENT_SOURCE_DIR}/deploy/debian/conffiles;${CMAKE_CURRENT_SOURCE_DIR}/deploy/debian/postinst;${CMAKE_CURRENT_SOURCE_DIR}/deploy/debian/prerm")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
