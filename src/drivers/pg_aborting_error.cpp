#include "pg_aborting_error.hpp"

#include "native_session.hpp"

#include <libpq-events.h>
#include <libpq-fe.h>

#include <new>

namespace asio_soci::detail {

namespace {

// The first error since the last successful statement; null when there is none.
struct remembered_error {
    std::exception_ptr error;
};

int on_event(PGEventId id, void* info, void* /*pass_through*/) {
    switch (id) {
        case PGEVT_REGISTER: {
            auto* event = static_cast<PGEventRegister*>(info);
            auto* memory = new (std::nothrow) remembered_error;
            if (memory && PQsetInstanceData(event->conn, on_event, memory))
                return 1;
            delete memory;
            return 0;
        }
        case PGEVT_CONNDESTROY: {
            auto* event = static_cast<PGEventConnDestroy*>(info);
            delete static_cast<remembered_error*>(PQinstanceData(event->conn, on_event));
            return 1;
        }
        case PGEVT_RESULTCREATE: {
            auto* event = static_cast<PGEventResultCreate*>(info);
            auto* memory = static_cast<remembered_error*>(PQinstanceData(event->conn, on_event));
            if (!memory)
                return 1;
            switch (PQresultStatus(event->result)) {
                case PGRES_COMMAND_OK:
                case PGRES_TUPLES_OK:
                case PGRES_SINGLE_TUPLE:
                    memory->error = nullptr;
                    break;
                case PGRES_FATAL_ERROR:
                    if (memory->error)
                        break;  // "current transaction is aborted", or a later failure
                    try {
                        memory->error = postgresql_error(event->result, event->conn, {});
                    } catch (...) {  // out of memory: forgetting costs only the diagnosis
                    }
                    break;
                default:
                    break;
            }
            return 1;
        }
        default:
            return 1;
    }
}

}  // namespace

bool remember_aborting_errors(pg_conn* conn) noexcept {
    return PQregisterEventProc(conn, on_event, "asio_soci aborting error", nullptr) != 0;
}

std::exception_ptr aborting_error(const pg_conn* conn) {
    const auto* memory = static_cast<const remembered_error*>(PQinstanceData(conn, on_event));
    return memory ? memory->error : nullptr;
}

}  // namespace asio_soci::detail
