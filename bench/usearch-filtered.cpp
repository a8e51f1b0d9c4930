// bench/usearch-filtered — USearch's own filtered graph search (the predicate its C++ `filtered_search`
// takes) against what the service does through the JavaScript binding (an unfiltered walk with a
// larger ef, then the filter over its candidates), on one saved graph, in one process, query by
// query in turn. Issue 15 asks to measure it: the binding ignores predicates, so using it would
// mean a native addon of our own.
//
// The filters are the bench's category bands (bench/search's `mix` hash of the slot: independent of
// the vectors). Quality is the candidates' recall of each query's exact Hamming top P among the
// matching codes, P the matching candidates wanted (ties at the P-th distance count as found): the same for both walks, so their
// times compare at equal candidates. Both walks run in this binary with the same compiler flags.
//
//   npm run bench:usearch-filtered -- <graph.usearch> <queries.f32> [queries=200] [shares=s25,s50] [ef=256]
//
// (the graph and queries of a `bench:search -- --keep DIR` run: DIR/<dataset>/b1-M16/idx/graph.usearch
// and DIR/<dataset>/queries.f32). Each row's time is also given against the unfiltered walk at the
// service's ef (256 at 1M), timed just before the filter's rows.
//
// Built by bench/usearch-cpp.sh with g++ against node_modules/usearch/include (no install step).
#include <usearch/index_dense.hpp>

#include "usearch-kept.hpp"

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <string>
#include <vector>

using namespace unum::usearch;

// bench/search's mix(i, field) and BANDS, so that `s25` is the same quarter of the slots.
static double mix(std::uint32_t i, std::uint32_t field) {
    std::uint32_t h = (i ^ (field + 1) * 0x9e3779b1u) * 0x85ebca6bu;
    h ^= h >> 13;
    h *= 0xc2b2ae35u;
    h ^= h >> 16;
    return h / 4294967296.0;
}

static const char* band_of(std::uint32_t i) {
    double u = mix(i, 0);
    if (u < 0.01) return "s01";
    if (u < 0.11) return "s10";
    if (u < 0.36) return "s25";
    if (u < 0.86) return "s50";
    return "rest";
}

static double now_ms() {
    return std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

int main(int argc, char** argv) {
    if (argc < 3) {
        std::fprintf(stderr, "usage: %s <graph.usearch> <queries.f32> [queries=200] [shares=s25,s50]\n", argv[0]);
        return 2;
    }
    std::size_t query_count = argc > 3 ? std::stoul(argv[3]) : 200;
    std::string shares = argc > 4 ? argv[4] : "s25,s50";
    std::size_t const unfiltered_ef = argc > 5 ? std::stoul(argv[5]) : 256;

    index_dense_t index;
    if (!load_kept_graph(argv[1], index)) return 1;
    std::size_t const dim = index.dimensions();
    std::size_t const words = dim / 64;
    std::fprintf(stderr, "graph: %zu items, %zu dimensions, connectivity %zu\n", index.size(), dim, index.connectivity());

    std::vector<float> const queries = read_kept_queries(argv[2], dim, query_count);

    // Every code, by slot, for the exact answers.
    std::vector<std::uint64_t> codes(index.size() * words);
    std::vector<std::uint8_t> live(index.size(), 0);
    for (std::size_t slot = 0; slot < index.size(); slot++)
        if (index.get(slot, reinterpret_cast<b1x8_t*>(&codes[slot * words]))) live[slot] = 1;
    // Packed as USearch packs b1x8 (the first dimension in the highest bit of its byte), so XOR and popcount give its distances.
    std::vector<std::uint64_t> query_codes(query_count * words, 0);
    for (std::size_t q = 0; q < query_count; q++) {
        std::vector<std::uint8_t> packed(dim / 8, 0);
        for (std::size_t d = 0; d < dim; d++)
            if (queries[q * dim + d] > 0) packed[d / 8] |= std::uint8_t(0x80 >> (d % 8));
        std::memcpy(&query_codes[q * words], packed.data(), dim / 8);
    }
    auto hamming = [&](std::size_t q, std::size_t slot) {
        std::size_t sum = 0;
        for (std::size_t w = 0; w < words; w++) sum += __builtin_popcountll(query_codes[q * words + w] ^ codes[slot * words + w]);
        return sum;
    };

    std::printf("| filter | walk | ef | ms/query | ÷ unfiltered | passing candidates | recall of the exact Hamming top (passing wanted) |\n| --- | --- | --- | --- | --- | --- | --- |\n");
    // The unfiltered walk at the service's ef, two passes (the first warms), the second timed.
    auto unfiltered_ms = [&]() {
        index.change_expansion_search(unfiltered_ef);
        double ms = 0;
        for (int round = 0; round < 2; round++) {
            ms = 0;
            for (std::size_t q = 0; q < query_count; q++) {
                double t0 = now_ms();
                auto result = index.search(&queries[q * dim], unfiltered_ef);
                std::vector<index_dense_t::vector_key_t> keys(result.size());
                result.dump_to(keys.data());
                ms += now_ms() - t0;
            }
        }
        return ms / query_count;
    };
    std::size_t start = 0;
    while (start < shares.size()) {
        std::size_t comma = shares.find(',', start);
        std::string band = shares.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        start = comma == std::string::npos ? shares.size() : comma + 1;

        std::vector<std::uint8_t> member(index.size(), 0);
        std::size_t members = 0;
        for (std::size_t slot = 0; slot < index.size(); slot++)
            if (live[slot] && band == band_of(static_cast<std::uint32_t>(slot))) member[slot] = 1, members++;
        double share = double(members) / index.size();

        // Each query's matching distances, sorted: the wanted-th is the cut within which a candidate counts as found.
        std::vector<std::vector<std::uint16_t>> sorted(query_count);
        for (std::size_t q = 0; q < query_count; q++) {
            for (std::size_t slot = 0; slot < index.size(); slot++)
                if (member[slot]) sorted[q].push_back(static_cast<std::uint16_t>(hamming(q, slot)));
            std::sort(sorted[q].begin(), sorted[q].end());
        }

        double baseline = unfiltered_ms();
        std::printf("| %s | unfiltered search | %zu | %.3f | 1.00 | — | — |\n", band.c_str(), unfiltered_ef, baseline);
        auto predicate = [&](index_dense_t::vector_key_t key) noexcept { return member[static_cast<std::size_t>(key)] != 0; };
        // Post-filter: the unfiltered walk at ef / share (× the overfetch), the filter over its candidates.
        // Filtered: the walk that keeps only matching candidates, at the ef of the matching ones wanted.
        for (std::size_t wanted : {160, 320, 480, 640}) {
            for (int filtered = 0; filtered < 2; filtered++) {
                std::size_t ef = filtered ? wanted : static_cast<std::size_t>(wanted / share + 0.5);
                index.change_expansion_search(ef);
                double ms = 0, passing = 0, recall = 0;
                std::vector<std::size_t> cut(query_count), at_cut(query_count);
                for (std::size_t q = 0; q < query_count; q++) {
                    cut[q] = sorted[q][wanted - 1];
                    at_cut[q] = std::upper_bound(sorted[q].begin(), sorted[q].end(), cut[q]) - sorted[q].begin();
                }
                for (int round = 0; round < 2; round++) {
                    ms = passing = recall = 0;
                    for (std::size_t q = 0; q < query_count; q++) {
                        float const* query = &queries[q * dim];
                        double t0 = now_ms();
                        auto result = filtered ? index.filtered_search(query, ef, predicate) : index.search(query, ef);
                        std::vector<index_dense_t::vector_key_t> keys(result.size());
                        std::size_t n = result.dump_to(keys.data());
                        std::size_t kept = 0, found = 0;
                        for (std::size_t i = 0; i < n; i++) kept += member[static_cast<std::size_t>(keys[i])];
                        ms += now_ms() - t0;
                        kept = 0;
                        for (std::size_t i = 0; i < n; i++) {
                            std::size_t slot = static_cast<std::size_t>(keys[i]);
                            if (!member[slot]) continue;
                            kept++;
                            if (hamming(q, slot) <= cut[q]) found++;
                        }
                        passing += kept;
                        // Found within the cut, of the (at least `wanted`) codes within it, capped at `wanted`.
                        recall += double(std::min(found, wanted)) / double(std::min(at_cut[q], wanted));
                    }
                }
                std::printf("| %s (%.1f %%) | %s | %zu | %.3f | %.2f | %.0f | %.3f |\n", band.c_str(), 100 * share, filtered ? "filtered_search" : "search, then filter", ef,
                            ms / query_count, ms / query_count / baseline, passing / query_count, recall / query_count);
                std::fflush(stdout);
            }
        }
    }
    return 0;
}
