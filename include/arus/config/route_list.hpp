// RouteList: a Config's routes in file order, each in an allocation of its own, so a
// reload can share an unchanged route's object with the running configuration (share())
// and a route's runtime can keep the object it was built from alive (pointer()). Reads
// like a std::vector<RouteConfig>; copying the list copies the routes, so a copy can be
// edited without touching the configuration it came from.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <iterator>
#include <memory>
#include <utility>
#include <vector>

namespace arus {

template <class Route>
class RouteList {
  using Slots = std::vector<std::shared_ptr<Route>>;

  template <class Value, class Base>
  class Iter {
   public:
    using iterator_category = std::random_access_iterator_tag;
    using value_type = Route;
    using difference_type = std::ptrdiff_t;
    using pointer = Value*;
    using reference = Value&;
    Iter() = default;
    explicit Iter(Base at) : at_(at) {}
    template <class V, class B>
    Iter(const Iter<V, B>& other) : at_(other.base()) {}  // iterator -> const_iterator
    Value& operator*() const { return **at_; }
    Value* operator->() const { return at_->get(); }
    Value& operator[](difference_type n) const { return *at_[n]; }
    Iter& operator++() {
      ++at_;
      return *this;
    }
    Iter operator++(int) { return Iter(at_++); }
    Iter& operator--() {
      --at_;
      return *this;
    }
    Iter operator--(int) { return Iter(at_--); }
    Iter& operator+=(difference_type n) {
      at_ += n;
      return *this;
    }
    Iter& operator-=(difference_type n) {
      at_ -= n;
      return *this;
    }
    friend Iter operator+(Iter i, difference_type n) { return i += n; }
    friend Iter operator+(difference_type n, Iter i) { return i += n; }
    friend Iter operator-(Iter i, difference_type n) { return i -= n; }
    friend difference_type operator-(const Iter& a, const Iter& b) { return a.at_ - b.at_; }
    friend bool operator==(const Iter& a, const Iter& b) { return a.at_ == b.at_; }
    friend auto operator<=>(const Iter& a, const Iter& b) { return a.at_ <=> b.at_; }
    Base base() const { return at_; }

   private:
    Base at_{};
  };

 public:
  using value_type = Route;
  using size_type = std::size_t;
  using iterator = Iter<Route, typename Slots::iterator>;
  using const_iterator = Iter<const Route, typename Slots::const_iterator>;

  RouteList() = default;
  RouteList(std::initializer_list<Route> routes) {
    for (const Route& route : routes) push_back(route);
  }
  RouteList(std::vector<Route> routes) {  // NOLINT: reads as the vector it replaces
    slots_.reserve(routes.size());
    for (Route& route : routes) push_back(std::move(route));
  }
  RouteList(const RouteList& other) { *this = other; }
  RouteList& operator=(const RouteList& other) {
    if (this == &other) return *this;
    Slots copied;
    copied.reserve(other.slots_.size());
    for (const auto& route : other.slots_) copied.push_back(std::make_shared<Route>(*route));
    slots_ = std::move(copied);
    return *this;
  }
  RouteList(RouteList&&) noexcept = default;
  RouteList& operator=(RouteList&&) noexcept = default;

  size_type size() const noexcept { return slots_.size(); }
  bool empty() const noexcept { return slots_.empty(); }
  void reserve(size_type n) { slots_.reserve(n); }
  void clear() noexcept { slots_.clear(); }

  Route& operator[](size_type i) { return *slots_[i]; }
  const Route& operator[](size_type i) const { return *slots_[i]; }
  Route& at(size_type i) { return *slots_.at(i); }
  const Route& at(size_type i) const { return *slots_.at(i); }
  Route& front() { return *slots_.front(); }
  const Route& front() const { return *slots_.front(); }
  Route& back() { return *slots_.back(); }
  const Route& back() const { return *slots_.back(); }

  void push_back(Route route) { slots_.push_back(std::make_shared<Route>(std::move(route))); }
  template <class... Args>
  Route& emplace_back(Args&&... args) {
    return *slots_.emplace_back(std::make_shared<Route>(std::forward<Args>(args)...));
  }

  iterator begin() noexcept { return iterator(slots_.begin()); }
  iterator end() noexcept { return iterator(slots_.end()); }
  const_iterator begin() const noexcept { return const_iterator(slots_.begin()); }
  const_iterator end() const noexcept { return const_iterator(slots_.end()); }

  // The object route `i` lives in: whoever holds it keeps the route alive.
  std::shared_ptr<const Route> pointer(size_type i) const { return slots_[i]; }

  // Appends `route`, an object another configuration holds (as share()).
  void push_shared(std::shared_ptr<const Route> route) {
    slots_.push_back(std::const_pointer_cast<Route>(std::move(route)));
  }

  // Route `i` becomes `route`, an object another configuration holds. Only for a list
  // that is not edited afterwards (a configuration about to be shared read-only): an edit
  // through operator[] would reach the other configuration.
  void share(size_type i, std::shared_ptr<const Route> route) {
    slots_[i] = std::const_pointer_cast<Route>(std::move(route));
  }

  // The same list in new slots, made by the calling thread, as is every route object only
  // this list holds (copied): a route shared with another configuration stays that object.
  // See config_relocation.hpp for why.
  RouteList relocated() const {
    RouteList here;
    here.slots_.reserve(slots_.size());
    for (const auto& route : slots_) {
      here.slots_.push_back(route.use_count() == 1 ? std::make_shared<Route>(*route) : route);
    }
    return here;
  }

 private:
  Slots slots_;
};

}  // namespace arus
