// connection_state()'s storage: objects kept with the connection a call runs on.
#include "connection_slot.hpp"

#include <stdexcept>

namespace asio_soci::detail {

namespace {

thread_local connection_slot* running_slot = nullptr;

connection_slot& slot_running(soci::session& sql) {
    if (!running_slot || running_slot->sql.get() != &sql)
        throw std::logic_error(
            "asio_soci::connection_state() outside a call that as_future() runs, or with "
            "another soci::session than the call was given");
    return *running_slot;
}

}  // namespace

running_on::running_on(connection_slot& slot) noexcept {
    running_slot = &slot;
}

running_on::~running_on() {
    running_slot = nullptr;
}

bool keeps_connection_state(soci::session& sql) noexcept {
    return running_slot && running_slot->sql.get() == &sql;
}

void* find_connection_state(soci::session& sql, std::type_index type) {
    for (auto& state : slot_running(sql).states) {
        if (state.type == type)
            return state.object.get();
    }
    return nullptr;
}

void* keep_connection_state(soci::session& sql, std::type_index type, void* object,
                            state_deleter destroy) {
    auto& states = slot_running(sql).states;
    states.reserve(states.size() + 1);  // so that the push cannot throw and delete `object`
    states.push_back({type, {object, destroy}});
    return object;
}

}  // namespace asio_soci::detail
