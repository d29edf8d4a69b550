// The zero-hop PostgreSQL API: statements run from the caller's io_context with libpq's
// asynchronous API (pg::async_query, and pg::async_execute for a batch in one round
// trip), and their results (pg::result).
#pragma once

#include <asio_soci/pg/async_query.hpp>
#include <asio_soci/pg/batch.hpp>
#include <asio_soci/pg/result.hpp>
