// What bench/usearch-*.cpp share: a graph and its queries kept by `bench:search -- --keep DIR`
// (DIR/<dataset>/b1-M16/idx/graph.usearch and DIR/<dataset>/queries.f32). Include it after
// <usearch/index_dense.hpp>.
#pragma once

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <vector>

// The graph at `path`, loaded into memory with room for one searching thread; false (and a line on
// stderr) when it cannot be read.
inline bool load_kept_graph(char const* path, unum::usearch::index_dense_t& index) {
    auto state = unum::usearch::index_dense_t::make(path, false);
    if (!state) {
        std::fprintf(stderr, "cannot load %s: %s\n", path, state.error.release());
        return false;
    }
    index = std::move(state.index);
    index.try_reserve(unum::usearch::index_limits_t(index.size(), 1));
    return true;
}

// Up to `count` queries of `dim` floats from `path`; `count` becomes how many it held.
inline std::vector<float> read_kept_queries(char const* path, std::size_t dim, std::size_t& count) {
    std::ifstream file(path, std::ios::binary | std::ios::ate);
    count = std::min(count, static_cast<std::size_t>(file.tellg()) / (dim * sizeof(float)));
    std::vector<float> queries(count * dim);
    file.seekg(0);
    file.read(reinterpret_cast<char*>(queries.data()), queries.size() * sizeof(float));
    return queries;
}
