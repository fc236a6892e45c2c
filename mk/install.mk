# make install / make uninstall (docs/operations.md). Included by the top-level Makefile,
# which defines BIN (the proxy binary) and PLUGINS (the built example filter).
#   make install PREFIX=/usr/local DESTDIR=/tmp/stage
#   make uninstall PREFIX=/usr/local DESTDIR=/tmp/stage
# The configuration is installed only where none exists, and uninstalled only while it
# is still byte-for-byte the one install wrote: an operator's edits are never lost.

PREFIX     ?= /usr/local
DESTDIR    ?=
SBINDIR    ?= $(PREFIX)/sbin
SYSCONFDIR ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
CONFDIR    ?= $(SYSCONFDIR)/arus-proxy
INCLUDEDIR ?= $(PREFIX)/include
FILTERDIR  ?= $(PREFIX)/lib/arus-proxy/filters
MANDIR     ?= $(PREFIX)/share/man
DOCDIR     ?= $(PREFIX)/share/doc/arus-proxy
UNITDIR    ?= $(PREFIX)/lib/systemd/system
INSTALL    ?= install

# The unit and the configuration name the default PREFIX's paths; this rewrites them.
INSTALL_PATHS_SED := sed -e 's|/usr/local/sbin/arus-proxy|$(SBINDIR)/arus-proxy|g' \
                         -e 's|/usr/local/etc/arus-proxy|$(CONFDIR)|g' \
                         -e 's|/usr/local/lib/arus-proxy/filters|$(FILTERDIR)|g'

# Installed file <- source, one pair per line of the recipes below. Uninstall removes
# exactly these (and the configuration under the rule above).
INSTALL_DOCS := README.md docs/architecture.md docs/configuration.md docs/operations.md \
                docs/filters.md
INSTALL_FILES := $(SBINDIR)/arus-proxy $(INCLUDEDIR)/arus/filter.h \
                 $(FILTERDIR)/filter.so $(DOCDIR)/examples/filter.c \
                 $(MANDIR)/man8/arus-proxy.8 $(UNITDIR)/arus-proxy.service \
                 $(addprefix $(DOCDIR)/,$(INSTALL_DOCS))
# Folders that belong to arus-proxy alone: removed once empty.
INSTALL_OWN_DIRS := $(DOCDIR)/docs $(DOCDIR)/examples $(DOCDIR) $(FILTERDIR) \
                    $(patsubst %/,%,$(dir $(FILTERDIR))) $(CONFDIR) $(INCLUDEDIR)/arus

.PHONY: install uninstall

install: $(BIN) $(PLUGINS)
	$(INSTALL) -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(INCLUDEDIR)/arus $(DESTDIR)$(FILTERDIR) \
	  $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR)/docs $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(UNITDIR) $(DESTDIR)$(CONFDIR)
	$(INSTALL) -m 0755 $(BIN) $(DESTDIR)$(SBINDIR)/arus-proxy
	$(INSTALL) -m 0644 include/arus/filter.h $(DESTDIR)$(INCLUDEDIR)/arus/filter.h
	$(INSTALL) -m 0644 c_plugins/filter.so $(DESTDIR)$(FILTERDIR)/filter.so
	$(INSTALL) -m 0644 c_plugins/filter.c $(DESTDIR)$(DOCDIR)/examples/filter.c
	$(INSTALL) -m 0644 man/arus-proxy.8 $(DESTDIR)$(MANDIR)/man8/arus-proxy.8
	$(INSTALL_PATHS_SED) contrib/arus-proxy.service > $(DESTDIR)$(UNITDIR)/arus-proxy.service
	chmod 0644 $(DESTDIR)$(UNITDIR)/arus-proxy.service
	$(INSTALL) -m 0644 README.md $(DESTDIR)$(DOCDIR)/README.md
	$(INSTALL) -m 0644 $(filter docs/%,$(INSTALL_DOCS)) $(DESTDIR)$(DOCDIR)/docs/
	@if [ -e $(DESTDIR)$(CONFDIR)/proxy.conf ]; then \
	  echo "install: keeping the existing $(DESTDIR)$(CONFDIR)/proxy.conf"; \
	else \
	  echo "$(INSTALL_PATHS_SED) contrib/arus-proxy.conf > $(DESTDIR)$(CONFDIR)/proxy.conf"; \
	  $(INSTALL_PATHS_SED) contrib/arus-proxy.conf > $(DESTDIR)$(CONFDIR)/proxy.conf && \
	  chmod 0644 $(DESTDIR)$(CONFDIR)/proxy.conf; \
	fi

uninstall:
	rm -f $(addprefix $(DESTDIR),$(INSTALL_FILES))
	@conf=$(DESTDIR)$(CONFDIR)/proxy.conf; \
	if [ -e $$conf ]; then \
	  if $(INSTALL_PATHS_SED) contrib/arus-proxy.conf | cmp -s - $$conf; then \
	    echo "rm -f $$conf"; rm -f $$conf; \
	  else \
	    echo "uninstall: keeping $$conf: it was changed after install"; \
	  fi; \
	fi
	@for d in $(addprefix $(DESTDIR),$(INSTALL_OWN_DIRS)); do \
	  if [ -d $$d ]; then rmdir $$d 2>/dev/null || true; fi; \
	done
# A staging tree (DESTDIR) also loses the folders the uninstall left empty; a live
# system keeps its /usr/local/sbin and the like.
	@if [ -n "$(DESTDIR)" ] && [ -d "$(DESTDIR)" ]; then \
	  cd "$(DESTDIR)" && for f in $(patsubst /%,%,$(INSTALL_FILES) $(INSTALL_OWN_DIRS)); do \
	    d=$$(dirname $$f); [ -d $$d ] && rmdir -p --ignore-fail-on-non-empty $$d; \
	  done; true; \
	fi
