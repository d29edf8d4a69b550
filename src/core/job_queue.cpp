#include "job_queue.hpp"

#include <utility>

namespace asio_soci::detail {

bool job_queue::push(slot_job job) {
    std::lock_guard lock{mutex_};
    jobs_.push_back(job);
    return !std::exchange(running_, true);
}

bool job_queue::next(slot_job& job) noexcept {
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

bool job_queue::remove(const offload_operation& op) noexcept {
    std::lock_guard lock{mutex_};
    for (auto i = head_; i < jobs_.size(); ++i) {
        auto& job = jobs_[i];
        if (job.what == slot_job::kind::run && job.subject == &op) {
            job = {slot_job::kind::skip, nullptr};
            return true;
        }
    }
    return false;
}

}  // namespace asio_soci::detail
