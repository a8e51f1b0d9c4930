// bench/usearch-walk — where the unfiltered graph walk's time goes, on one saved graph: how many
// nodes a walk expands and how many distances it computes, its time with every query different
// (the graph's memory cold, as in service) and with one query repeated (the walk's memory in cache),
// and the same walk with the codes of each expanded node's unvisited neighbours loaded ahead of the
// distance loop, by software prefetch instructions and by plain loads, each with and without the
// check of every candidate's key that USearch's dense index adds to a walk (it reads the node of each
// candidate that enters the top list, to skip removed entries).
//
//   npm run bench:usearch-walk -- <graph.usearch> <queries.f32> [queries=300] [ef=256] [rounds=4]
//
// (the graph and queries of a `bench:search -- --keep DIR` run: DIR/<dataset>/b1-M16/idx/graph.usearch
// and DIR/<dataset>/queries.f32). Every variant returns the same candidates (checked, printed as
// `same`); the rounds run the variants in turns, so the machine's drift falls on all of them.
//
// The variants call the graph's own search (index_gt::search) with a prefetch callback, which
// index_dense_gt keeps private and never passes one to: the header is included with private members
// made public. This is a measurement, not a way to serve: the service uses the JavaScript binding.
// Built by bench/usearch-cpp.sh with g++ against node_modules/usearch/include (no install step).
#define private public
#define protected public
#include <usearch/index_dense.hpp>
#undef private
#undef protected

#include "usearch-kept.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

using namespace unum::usearch;
using key_t_ = index_dense_t::vector_key_t;

static double now_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Software prefetch of each unvisited neighbour's code.
struct prefetch_codes_t {
    index_dense_t const* index;
    template <typename it_t> void operator()(it_t begin, it_t end) const noexcept {
        for (; begin != end; ++begin) __builtin_prefetch(index->vectors_lookup_[get_slot(begin)], 0, 3);
    }
};

// Plain loads of the first byte of each unvisited neighbour's code: independent loads the core
// overlaps, where it may drop a prefetch instruction whose page is not in the TLB.
static std::uint64_t loaded_sink = 0;
struct load_codes_t {
    index_dense_t const* index;
    template <typename it_t> void operator()(it_t begin, it_t end) const noexcept {
        std::uint64_t sum = 0;
        for (; begin != end; ++begin) sum += *reinterpret_cast<std::uint8_t const volatile*>(index->vectors_lookup_[get_slot(begin)]);
        loaded_sink += sum;
    }
};

struct variant_t {
    char const* name;
    int prefetch; // 0 none, 1 instructions, 2 loads
    bool key_check;
};

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s <graph.usearch> <queries.f32> [queries=300] [ef=256] [rounds=4]\n", argv[0]);
        return 2;
    }
    std::size_t query_count = argc > 3 ? std::stoul(argv[3]) : 300;
    std::size_t const ef = argc > 4 ? std::stoul(argv[4]) : 256;
    int const rounds = argc > 5 ? std::stoi(argv[5]) : 4;

    index_dense_t index;
    if (!load_kept_graph(argv[1], index)) return 1;
    std::size_t const dim = index.dimensions();
    std::vector<float> const queries = read_kept_queries(argv[2], dim, query_count);
    index.change_expansion_search(ef);
    std::fprintf(stderr, "graph: %zu items, %zu dimensions, connectivity %zu, ef %zu, %zu queries\n", index.size(), dim, index.connectivity(), ef,
                 query_count);

    variant_t const variants[] = {
        {"USearch's search (the binding's walk)", 0, true},
        {"prefetch instructions", 1, true},
        {"loads ahead", 2, true},
        {"loads ahead, no key check", 2, false},
        {"no key check", 0, false},
    };
    std::size_t const variant_count = sizeof(variants) / sizeof(variants[0]);

    // One walk: the candidates, and the walk's counters (USearch's, reported by its dense search only).
    auto walk = [&](variant_t const& variant, float const* query, std::vector<key_t_>& keys) {
        keys.assign(ef, 0);
        if (variant.prefetch == 0 && variant.key_check) {
            auto result = index.search(query, ef);
            keys.resize(result.dump_to(keys.data()));
            return std::pair<std::size_t, std::size_t>(result.computed_distances, result.visited_members);
        }
        auto lock = index.thread_lock_(index_dense_t::any_thread());
        byte_t* code = index.cast_buffer_.data() + index.metric_.bytes_per_vector() * lock.thread_id;
        index.casts_.from.f32(reinterpret_cast<byte_t const*>(query), dim, code);
        index_search_config_t config;
        config.thread = lock.thread_id;
        config.expansion = ef;
        key_t_ const free_key = index.free_key_;
        auto allow = [free_key](index_dense_t::member_cref_t const& member) noexcept { return static_cast<key_t_>(member.key) != free_key; };
        index_dense_t::metric_proxy_t metric{index};
        auto run = [&](auto&& predicate, auto&& prefetch) {
            auto result = index.typed_->search(code, ef, metric, config, predicate, prefetch);
            keys.resize(result.dump_to(keys.data()));
        };
        if (variant.key_check) {
            if (variant.prefetch == 1) run(allow, prefetch_codes_t{&index});
            else run(allow, load_codes_t{&index});
        } else {
            if (variant.prefetch == 0) run(dummy_predicate_t{}, dummy_prefetch_t{});
            else if (variant.prefetch == 1) run(dummy_predicate_t{}, prefetch_codes_t{&index});
            else run(dummy_predicate_t{}, load_codes_t{&index});
        }
        return std::pair<std::size_t, std::size_t>(0, 0);
    };

    std::vector<std::vector<key_t_>> reference(query_count);
    std::vector<double> cold(variant_count, 0), hot(variant_count, 0);
    std::vector<std::size_t> differing(variant_count, 0);
    double distances = 0, expanded = 0;
    std::vector<key_t_> keys;
    for (int round = 0; round < rounds; round++) {
        for (std::size_t v = 0; v < variant_count; v++) {
            // Cold: each query once, in order. Hot: the first query, as many times.
            double cold_ms = 0, hot_ms = 0;
            for (std::size_t q = 0; q < query_count; q++) {
                double t0 = now_ms();
                auto counters = walk(variants[v], &queries[q * dim], keys);
                cold_ms += now_ms() - t0;
                if (v == 0) {
                    reference[q] = keys;
                    if (round == 0) distances += counters.first, expanded += counters.second;
                } else if (round == rounds - 1 && keys != reference[q]) differing[v]++;
            }
            for (std::size_t q = 0; q < query_count; q++) {
                double t0 = now_ms();
                walk(variants[v], &queries[0], keys);
                hot_ms += now_ms() - t0;
            }
            // The first round warms the process; the others count.
            if (round > 0 || rounds == 1) cold[v] += cold_ms / query_count, hot[v] += hot_ms / query_count;
        }
    }
    int const counted = rounds > 1 ? rounds - 1 : 1;
    std::printf("%zu items, M%zu, ef %zu: a walk computes %.0f distances and expands %.0f nodes (means over %zu queries)\n\n", index.size(),
                index.connectivity(), ef, distances / query_count, expanded / query_count, query_count);
    std::printf("| walk | ms, queries in turn | ÷ USearch's | ms, one query repeated | candidates differing |\n| --- | --- | --- | --- | --- |\n");
    for (std::size_t v = 0; v < variant_count; v++)
        std::printf("| %s | %.3f | %.2f | %.3f | %zu of %zu |\n", variants[v].name, cold[v] / counted, cold[v] / cold[0], hot[v] / counted, v ? differing[v] : 0,
                    query_count);
    return loaded_sink == 42 ? 1 : 0;
}
