// What start-up, -t and reload check before any filter is loaded, with errors that name
// the file, line, section and key: the run user and group, and that nobody but root and
// the run user can change the filter code. Start-up and reload code only (user database,
// file system); thread-safe.
#pragma once

#include <sys/types.h>

#include <cstddef>

#include "arus/app/privileges.hpp"
#include "arus/config/config.hpp"
#include "arus/core/result.hpp"

namespace arus {

// The user and group the proxy runs as under `config`: [global] user and group looked up
// (the user's primary group when group is empty), or this process's effective ids when
// user is empty. Errors are placed at the key at fault, e.g.
// "proxy.conf:5: [global] user: user 'nosuchuser': no such user".
Result<RunIdentity> configured_identity(const Config& config);

// Refuses filter code that someone other than root and `run_uid` could change: plugin_dir
// and the folders above it (check_plugin_dir_safe), then each route's filter file
// (check_filter_file). Opens files but loads nothing, so it runs before the first filter
// is loaded; does nothing when no route has a filter. Errors are placed at the key:
// "[global] plugin_dir" (or, when plugin_dir is left at its default, the first route's
// `filter` line) for the folder, "[route:NAME] filter" for a file. The same call at
// start-up and -t (`run_uid` = configured_identity()) and at reload (the running uid).
Result<void> check_filter_sources(const Config& config, uid_t run_uid);

// drop_privileges() to [global] user and group, its error placed at the `user` line.
Result<void> become_run_user(const Config& config);

// -t: what start-up checks, in its order, binding aside: the run user, the filter sources
// for that user, then every filter loaded (build_snapshot). As root it switches to the run
// user first, as start-up does, so no filter code runs as root here either; without root
// it cannot, and the filters load as whoever runs -t. Returns the number of routes.
Result<size_t> test_configuration(const ConfigPtr& config);

}  // namespace arus
