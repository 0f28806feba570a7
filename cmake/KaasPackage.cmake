# `make package`: a Debian package (CPack) with kaasd, the kaas CLI, the templates, the portal,
# the systemd unit and the docs; its postinst makes the `kaas` system user the unit runs as.
# Installed paths: /usr/bin/{kaasd,kaas}, /usr/share/kaas/{templates,web},
# /usr/lib/systemd/system/kaasd.service, /usr/share/doc/kaas (docs, example configurations).
install(DIRECTORY ${PROJECT_SOURCE_DIR}/templates/ansible ${PROJECT_SOURCE_DIR}/templates/cloud-init
                  ${PROJECT_SOURCE_DIR}/templates/domain ${PROJECT_SOURCE_DIR}/templates/kubeadm
        DESTINATION share/kaas/templates)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/web/ DESTINATION share/kaas/web
        PATTERN node_modules EXCLUDE)
install(FILES ${PROJECT_SOURCE_DIR}/deploy/systemd/kaasd.service
        DESTINATION lib/systemd/system)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/docs/ DESTINATION share/doc/kaas PATTERN screenshots EXCLUDE)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/deploy/replicas ${PROJECT_SOURCE_DIR}/deploy/prometheus
                  ${PROJECT_SOURCE_DIR}/deploy/grafana
        DESTINATION share/doc/kaas/examples)

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME kaas)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "kaas maintainers <kaas@kaas.dev>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Kubernetes as a service: kaasd control plane and kaas CLI")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
# Shared libraries the binaries link (libvirt, SOCI, libpq, OpenSSL, libsodium, ...), found by
# dpkg-shlibdeps; Ansible runs the playbooks.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_DEBIAN_PACKAGE_DEPENDS "ansible-core, openssh-client, adduser, zstd")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA "${PROJECT_SOURCE_DIR}/deploy/debian/postinst")
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
include(CPack)
