// completion_registry: what keeps a destroyed io_context from receiving a completion.
// The operations of this library complete from worker threads, by posting to the
// handler's executor. Asio's own I/O objects are services of their execution context,
// so destroying the context destroys their pending operations; ours live elsewhere. A
// registry is a service of the handler's context that knows every operation that will
// still post there: when the context shuts down, it asks them to end (cancellation),
// waits until each has (a worker running fn finishes it first), and destroys their
// handlers on the shutting-down thread, as Asio's services do. Nothing is posted after.
#pragma once

#include <asio/execution_context.hpp>

#include <condition_variable>
#include <mutex>
#include <vector>

namespace asio_soci::detail {

/// An operation as the registry sees it.
class completion_target {
public:
    /// The context is shutting down: end soon (a terminal cancellation).
    virtual void cancel_for_shutdown() noexcept = 0;
    /// Destroys the operation with its handler, without an upcall.
    virtual void discard() noexcept = 0;

protected:
    ~completion_target() = default;

private:
    friend class completion_registry;
    completion_target* prev_ = nullptr;  // guarded by the registry's mutex
    completion_target* next_ = nullptr;
    bool ended_ = false;  // reached its completion after the shutdown began
};

class completion_registry final : public asio::execution_context::service {
public:
    using key_type = completion_registry;
    static inline asio::execution_context::id id;

    explicit completion_registry(asio::execution_context& context)
        : asio::execution_context::service(context) {}

    /// An operation that will post its completion to this context.
    void add(completion_target& op) {
        std::lock_guard lock{mutex_};
        op.prev_ = nullptr;
        op.next_ = head_;
        if (head_)
            head_->prev_ = &op;
        head_ = &op;
    }

    /// Runs `post` (which posts `op`'s completion) unless the context is shutting down,
    /// in which case the shutdown destroys `op`. Under the lock, so that the context
    /// cannot go away during the post.
    template <class Post>
    void post_or_hold(completion_target& op, Post&& post) {
        std::lock_guard lock{mutex_};
        if (shutting_down_) {
            op.ended_ = true;
            ended_cv_.notify_all();
            return;
        }
        (op.prev_ ? op.prev_->next_ : head_) = op.next_;
        if (op.next_)
            op.next_->prev_ = op.prev_;
        post();
    }

private:
    void shutdown() override {
        std::vector<completion_target*> pending;
        {
            std::lock_guard lock{mutex_};
            shutting_down_ = true;
            for (auto* op = head_; op; op = op->next_)
                pending.push_back(op);
            head_ = nullptr;
        }
        // Outside the lock: a cancellation may complete the operation at once.
        for (auto* op : pending)
            op->cancel_for_shutdown();
        {
            std::unique_lock lock{mutex_};
            ended_cv_.wait(lock, [&] {
                for (auto* op : pending)
                    if (!op->ended_)
                        return false;
                return true;
            });
        }
        for (auto* op : pending)
            op->discard();
    }

    std::mutex mutex_;
    std::condition_variable ended_cv_;
    completion_target* head_ = nullptr;
    bool shutting_down_ = false;
};

}  // namespace asio_soci::detail
