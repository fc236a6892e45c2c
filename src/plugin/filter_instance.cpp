// FilterInstance: create()/destroy() of a filter's route state, with the error message
// of a failed create() passed on with the file's name.
#include "arus/plugin/filter_instance.hpp"

#include <cstring>

namespace arus {

Result<std::shared_ptr<const FilterInstance>> FilterInstance::create(
    std::shared_ptr<const FilterPlugin> plugin, const std::string& args) {
  // Zero-filled and re-terminated after the call: a filter that forgets the NUL or
  // overruns nothing still yields a printable message.
  char error[512];
  std::memset(error, 0, sizeof error);
  void* route_state = nullptr;
  int rc = plugin->api().create(args.c_str(), &route_state, error, sizeof error);
  if (rc != 0) {
    error[sizeof error - 1] = '\0';
    std::string message = plugin->display_path() + ": filter_args \"" + args + "\": ";
    message += error[0] != '\0' ? error : "create failed (no message)";
    return Error{std::move(message)};
  }
  return std::make_shared<const FilterInstance>(Passkey(), std::move(plugin), args, route_state);
}

FilterInstance::FilterInstance(Passkey, std::shared_ptr<const FilterPlugin> plugin,
                               std::string args, void* route_state) noexcept
    : plugin_(std::move(plugin)), args_(std::move(args)), route_state_(route_state) {}

FilterInstance::~FilterInstance() { plugin_->api().destroy(route_state_); }

}  // namespace arus
