// IntrusiveList: a doubly linked list threaded through its elements, for an owner that
// links and unlinks them without allocating. Not thread-safe: its owner's thread only.
#pragma once

namespace arus {

template <typename T>
class IntrusiveListHook;

// A list of T linked through the member `Hook` of each element. Borrows its elements:
// each must stay alive while linked. An element is in at most one list per hook.
template <typename T, IntrusiveListHook<T> T::*Hook>
class IntrusiveList {
 public:
  IntrusiveList() = default;
  IntrusiveList(const IntrusiveList&) = delete;
  IntrusiveList& operator=(const IntrusiveList&) = delete;

  bool empty() const noexcept { return head_ == nullptr; }
  T* front() const noexcept { return head_; }
  T* back() const noexcept { return tail_; }
  // The element after `element` (linked in this list), or null: for walking the list
  // while nothing is linked or unlinked.
  static T* next(const T& element) noexcept { return (element.*Hook).next_; }

  // `element` must not be linked.
  void push_front(T& element) noexcept {
    IntrusiveListHook<T>& hook = element.*Hook;
    hook.prev_ = nullptr;
    hook.next_ = head_;
    if (head_ != nullptr) (head_->*Hook).prev_ = &element;
    head_ = &element;
    if (tail_ == nullptr) tail_ = &element;
    hook.linked_ = true;
  }

  // `element` must not be linked.
  void push_back(T& element) noexcept {
    IntrusiveListHook<T>& hook = element.*Hook;
    hook.next_ = nullptr;
    hook.prev_ = tail_;
    if (tail_ != nullptr) (tail_->*Hook).next_ = &element;
    tail_ = &element;
    if (head_ == nullptr) head_ = &element;
    hook.linked_ = true;
  }

  // `element` must be linked in this list.
  void erase(T& element) noexcept {
    IntrusiveListHook<T>& hook = element.*Hook;
    if (hook.prev_ != nullptr) (hook.prev_->*Hook).next_ = hook.next_;
    if (hook.next_ != nullptr) (hook.next_->*Hook).prev_ = hook.prev_;
    if (head_ == &element) head_ = hook.next_;
    if (tail_ == &element) tail_ = hook.prev_;
    hook.prev_ = hook.next_ = nullptr;
    hook.linked_ = false;
  }

 private:
  T* head_ = nullptr;
  T* tail_ = nullptr;
};

// The links an IntrusiveList keeps inside an element. Only the list reads or writes
// them, so no one else can relink an element behind its owner's back.
template <typename T>
class IntrusiveListHook {
 public:
  IntrusiveListHook() = default;
  IntrusiveListHook(const IntrusiveListHook&) = delete;
  IntrusiveListHook& operator=(const IntrusiveListHook&) = delete;

  bool linked() const noexcept { return linked_; }

 private:
  template <typename U, IntrusiveListHook<U> U::*>
  friend class IntrusiveList;

  T* prev_ = nullptr;
  T* next_ = nullptr;
  bool linked_ = false;
};

}  // namespace arus
