// job_queue: a connection's strand. Jobs run one at a time, in order, on the workers;
// lighter than asio::strand (one post per burst of jobs, no allocation once the vector
// has grown).
#pragma once

#include <asio_soci/detail/offload_operation.hpp>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <utility>
#include <vector>

namespace asio_soci::detail {

/// A job for one connection: what to do, and with what.
struct slot_job {
    enum class kind : std::uint8_t { run, prepare, reset, close, lend, skip };
    kind what;
    void* subject;
    // offload_operation* (run), acquire_waiter* (prepare), pg_operation* (lend: the
    // connection is lent to a zero-hop call, which gives the queue back when done),
    // unused otherwise. A run or lend job cancelled before it started becomes a skip.
};

/// Every operation passes through push() and next(): defined here, to be inlined.
class job_queue {
public:
    /// Appends `job`; true when no worker is running the queue: the caller must post one.
    bool push(slot_job job);
    /// The next job for the worker running the queue; false (and the queue is no longer
    /// being run) when there is none.
    bool next(slot_job& job) noexcept;
    /// Turns the `what` job for `subject` into a skip if no worker has taken it yet;
    /// false if too late.
    bool remove(slot_job::kind what, const void* subject) noexcept;
    /// Takes the queue when it is empty and nobody runs it: true, and the caller runs
    /// it (a zero-hop call borrowing the connection), until it calls resume().
    bool try_take() noexcept;
    /// The borrower is done: false when the queue is empty (and now free); true when
    /// jobs are waiting: the caller must post a worker to run them.
    bool resume() noexcept;

private:
    std::mutex mutex_;
    std::vector<slot_job> jobs_;  // [head_, size) pending
    std::size_t head_ = 0;
    bool running_ = false;  // a worker is running the queue
};

inline bool job_queue::push(slot_job job) {
    std::lock_guard lock{mutex_};
    jobs_.push_back(job);
    return !std::exchange(running_, true);
}

inline bool job_queue::next(slot_job& job) noexcept {
    std::lock_guard lock{mutex_};
    if (head_ == jobs_.size()) {
        jobs_.clear();  // keeps its capacity: no allocation next time
        head_ = 0;
        running_ = false;
        return false;
    }
    job = jobs_[head_++];
    return true;
}

inline bool job_queue::remove(slot_job::kind what, const void* subject) noexcept {
    std::lock_guard lock{mutex_};
    for (auto i = head_; i < jobs_.size(); ++i) {
        auto& job = jobs_[i];
        if (job.what == what && job.subject == subject) {
            job = {slot_job::kind::skip, nullptr};
            return true;
        }
    }
    return false;
}

inline bool job_queue::try_take() noexcept {
    std::lock_guard lock{mutex_};
    if (running_)
        return false;
    running_ = true;  // not running implies empty
    return true;
}

inline bool job_queue::resume() noexcept {
    std::lock_guard lock{mutex_};
    if (head_ < jobs_.size())
        return true;
    jobs_.clear();
    head_ = 0;
    running_ = false;
    return false;
}

}  // namespace asio_soci::detail
