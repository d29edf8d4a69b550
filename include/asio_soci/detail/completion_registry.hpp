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

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <thread>
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
    completion_target* prev_ = nullptr;  // guarded by the registry's list lock
    completion_target* next_ = nullptr;
    bool ended_ = false;  // reached its completion after the shutdown began; ended_mutex_
};

/// Every operation takes it twice, for a few pointer writes (and one post): a spin lock
/// costs a tenth of a mutex there, and waiting for it is rare and short.
class spin_lock {
public:
    void lock() noexcept {
        while (locked_.exchange(true, std::memory_order_acquire))
            while (locked_.load(std::memory_order_relaxed))
                std::this_thread::yield();
    }
    void unlock() noexcept { locked_.store(false, std::memory_order_release); }

private:
    std::atomic<bool> locked_{false};
};

class completion_registry final : public asio::execution_context::service {
public:
    using key_type = completion_registry;
    static inline asio::execution_context::id id;

    explicit completion_registry(asio::execution_context& context)
        : asio::execution_context::service(context) {}
    ~completion_registry() override { shutdowns().fetch_add(1, std::memory_order_acq_rel); }

    /// The context's registry. Asio's use_service() takes a mutex and searches; every
    /// operation needs it, so each thread remembers the last answer, which stays valid
    /// until a registry shuts down (a context destroyed, whose address may be reused).
    static completion_registry& of(asio::execution_context& context) {
        struct last_lookup {
            asio::execution_context* context = nullptr;
            completion_registry* registry = nullptr;
            std::uint64_t generation = 0;
        };
        thread_local last_lookup last;
        const auto generation = shutdowns().load(std::memory_order_acquire);
        if (last.context != &context || last.generation != generation)
            last = {&context, &asio::use_service<completion_registry>(context), generation};
        return *last.registry;
    }

    /// An operation that will post its completion to this context.
    void add(completion_target& op) {
        std::lock_guard lock{list_lock_};
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
        {
            std::lock_guard lock{list_lock_};
            if (!shutting_down_) {
                (op.prev_ ? op.prev_->next_ : head_) = op.next_;
                if (op.next_)
                    op.next_->prev_ = op.prev_;
                post();
                return;
            }
        }
        // Notified under the lock: once the shutdown sees ended_, it may destroy the
        // registry, condition variable included.
        std::lock_guard lock{ended_mutex_};
        op.ended_ = true;
        ended_cv_.notify_all();
    }

private:
    // Counts registry shutdowns and destructions in the process: a change invalidates
    // of()'s memories.
    static std::atomic<std::uint64_t>& shutdowns() noexcept {
        static constinit std::atomic<std::uint64_t> count{0};
        return count;
    }

    void shutdown() override {
        shutdowns().fetch_add(1, std::memory_order_acq_rel);
        std::vector<completion_target*> pending;
        {
            std::lock_guard lock{list_lock_};
            shutting_down_ = true;
            for (auto* op = head_; op; op = op->next_)
                pending.push_back(op);
            head_ = nullptr;
        }
        // Outside the lock: a cancellation may complete the operation at once.
        for (auto* op : pending)
            op->cancel_for_shutdown();
        {
            std::unique_lock lock{ended_mutex_};
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

    spin_lock list_lock_;
    completion_target* head_ = nullptr;  // guarded by list_lock_
    bool shutting_down_ = false;         // guarded by list_lock_
    std::mutex ended_mutex_;
    std::condition_variable ended_cv_;
};

}  // namespace asio_soci::detail
