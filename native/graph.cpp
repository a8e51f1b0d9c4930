// The service's HNSW graph over sign-bit codes: USearch's graph (index_gt, the header the usearch
// package ships) under a dense layer of our own, in place of USearch's index_dense_gt and its
// JavaScript binding. What it changes, and why (README, "Why a walk takes what it takes"):
//
//  - The codes sit in one array in slot order, so a neighbour's code is at a computed address: the
//    walk loads the codes of an expanded node's unvisited neighbours ahead of its distance loop and
//    their misses overlap (USearch's dense index reads each through a pointer table, one by one).
//  - Removed entries are a bitmap, checked only when there are any: USearch's dense index reads the
//    node of every candidate that enters the top list to compare its key with the removed-entry key.
//  - Keys are the service's vector slots (below 2^32 − 1), looked up in a plain array (4 bytes a
//    key) instead of a hash set of key and slot pairs.
//  - A walk of the base level can start from given keys (searchFrom, and searchFiltered with seeds):
//    for a walk from the top that the walk guard found short, started again at its sample's codes
//    nearest to the query, and for every filtered walk, started there at once.
//  - Those walks of the base level expand a beam of three nodes a step, their nodes and then their
//    neighbours' codes read side by side (base_walk_); one node a step, asked for, is USearch's walk
//    (which the walks from the top keep).
//
// Beside the graph: the rescoring's reads and dot products (dotMany), the two-bit estimates
// (estimateDots), the code scans of the filtered paths and the walk guard (nearestCodes over a
// range, nearestListed over a list of slots) and memory in huge pages (hugeBuffer).
//
// Files are USearch's index_dense format (the vectors matrix, the 64-byte head, the graph), so a
// graph saved by either loads in the other. Keys are u64 and slots u32 in the file, as there.
//
// All calls are synchronous and come from one JavaScript thread; add and searchMany fan out to
// threads of their own and join them before returning. Built by scripts/build-native.mjs.
#include <usearch/index_dense.hpp> // the file head (index_dense_head_t); index_dense_gt itself is not used

#include <napi.h>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#endif

#include <linux/io_uring.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <queue>
#include <array>
#include <atomic>
#include <cmath>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <mutex>
#include <utility>
#include <string>
#include <thread>
#include <vector>

using namespace unum::usearch;

namespace {

#if defined(__x86_64__) && defined(__GNUC__)
// AVX-512 (its popcount of 64-bit lanes, VPOPCNTQ: Intel since Ice Lake, AMD since Zen 4) for the code scans
// (code_distances) and the walks' two-bit estimates (estimate_t), chosen at run time.
#define LOOKBOOK_AVX512 __attribute__((target("avx512f,avx512vpopcntdq,avx512bw,avx512vl")))

bool const avx512_popcount = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vpopcntdq") &&
                             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl");
// AVX-512 VNNI (VPDPBUSD: Intel since Ice Lake, AMD since Zen 4) for the walks' two-bit estimates in 8-bit integers (estimate_t::dot_bytes).
#define LOOKBOOK_AVX512_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512vnni")))
bool const avx512_vnni = avx512_popcount && __builtin_cpu_supports("avx512vnni");
// Whether they use it: where the CPU has it, unless LOOKBOOK_SCAN_KERNEL=scalar (or scanKernel('scalar')) asks for the plain loops.
bool scan_avx512 = avx512_popcount && !(std::getenv("LOOKBOOK_SCAN_KERNEL") && std::string(std::getenv("LOOKBOOK_SCAN_KERNEL")) == "scalar");
#endif

using key_t_ = std::uint64_t;
using slot_t_ = std::uint32_t;
constexpr std::size_t huge_page = std::size_t{2} << 20;
// Memory asked to be backed by huge pages from this size up (map_huge, adviseHuge).
constexpr std::size_t huge_advice_from = std::size_t{16} << 20;

// Anonymous memory for `bytes` (a whole number of huge pages); from 16 MB up, asked to be backed by
// transparent huge pages: a 1M walk otherwise pays a TLB miss for most nodes and codes it reads
// (README, "Transparent huge pages"). Below that the advice is not given, since a touched huge page
// is resident whole (a small index would hold megabytes it does not use). Where THP is off, or
// `never`, the advice is ignored; under `always` the kernel does what it does for any memory.
inline byte_t* map_huge(std::size_t bytes) noexcept {
    void* data = ::mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (data == MAP_FAILED) return nullptr;
#ifdef MADV_HUGEPAGE
    if (bytes >= huge_advice_from) ::madvise(data, bytes, MADV_HUGEPAGE);
#endif
    return static_cast<byte_t*>(data);
}

inline std::size_t round_to_huge(std::size_t bytes) noexcept { return (bytes + huge_page - 1) / huge_page * huge_page; }

// The graph's tape of nodes: arenas of huge pages (doubling from 4 MB, as USearch's own), bump
// allocated, nodes on 8-byte boundaries (USearch's dense index puts each on a 64-byte one, which at
// M16 turns a 142-byte node into 192: 50 MB at 1M items; node fields are read with misaligned loads
// either way). As USearch's tape, the first deallocation discards every arena (index_gt::clear).
class huge_tape_t {
    struct arena_t {
        byte_t* data;
        std::size_t size;
    };
    std::unique_ptr<std::mutex> mutex_ = std::make_unique<std::mutex>();
    std::vector<arena_t> arenas_;
    std::size_t used_ = 0; // in the last arena

  public:
    using value_type = byte_t;
    using size_type = std::size_t;
    using pointer = byte_t*;
    using const_pointer = byte_t const*;

    huge_tape_t() = default;
    // index_gt copies its allocator into forks: a copy starts empty, as USearch's does.
    huge_tape_t(huge_tape_t const&) {}
    huge_tape_t& operator=(huge_tape_t const&) {
        reset();
        return *this;
    }
    huge_tape_t(huge_tape_t&& other) noexcept
        : mutex_(std::move(other.mutex_)), arenas_(std::move(other.arenas_)), used_(std::exchange(other.used_, 0)) {
        other.mutex_ = std::make_unique<std::mutex>();
    }
    huge_tape_t& operator=(huge_tape_t&& other) noexcept {
        std::swap(mutex_, other.mutex_);
        std::swap(arenas_, other.arenas_);
        std::swap(used_, other.used_);
        return *this;
    }
    ~huge_tape_t() { reset(); }

    void reset() noexcept {
        for (arena_t const& arena : arenas_) ::munmap(arena.data, arena.size);
        arenas_.clear();
        used_ = 0;
    }

    byte_t* allocate(std::size_t bytes) noexcept {
        bytes = (bytes + 7) / 8 * 8;
        std::unique_lock<std::mutex> lock(*mutex_);
        if (arenas_.empty() || used_ + bytes > arenas_.back().size) {
            std::size_t size = arenas_.empty() ? std::size_t{4} << 20 : arenas_.back().size * 2;
            size = round_to_huge(std::max(size, bytes));
            byte_t* data = map_huge(size);
            if (!data) return nullptr;
            try {
                arenas_.push_back({data, size});
            } catch (...) {
                ::munmap(data, size);
                return nullptr;
            }
            used_ = 0;
        }
        byte_t* result = arenas_.back().data + used_;
        used_ += bytes;
        return result;
    }

    void deallocate(byte_t* = nullptr, std::size_t = 0) noexcept { reset(); }

    std::size_t total_allocated() const noexcept {
        std::size_t total = 0;
        for (arena_t const& arena : arenas_) total += arena.size;
        return total;
    }
};

// The graph's other arrays (its node table, per-thread contexts): huge pages from 2 MB up, the heap below.
template <typename element_at> class huge_array_allocator_gt {
  public:
    using value_type = element_at;
    using size_type = std::size_t;
    using pointer = element_at*;
    using const_pointer = element_at const*;
    template <typename other_at> struct rebind {
        using other = huge_array_allocator_gt<other_at>;
    };
    huge_array_allocator_gt() noexcept = default;
    template <typename other_at> huge_array_allocator_gt(huge_array_allocator_gt<other_at> const&) noexcept {}

    pointer allocate(std::size_t count) const noexcept {
        std::size_t bytes = count * sizeof(element_at);
        if (bytes >= huge_page) return reinterpret_cast<pointer>(map_huge(round_to_huge(bytes)));
        return static_cast<pointer>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
    }
    void deallocate(pointer data, std::size_t count) const noexcept {
        if (!data) return;
        std::size_t bytes = count * sizeof(element_at);
        if (bytes >= huge_page) ::munmap(data, round_to_huge(bytes));
        else std::free(data);
    }
};

using graph_t = index_gt<float, key_t_, slot_t_, huge_array_allocator_gt<byte_t>, huge_tape_t>;
using member_cref_t = graph_t::member_cref_t;
using member_citerator_t = graph_t::member_citerator_t;

key_t_ const free_key = default_free_value<key_t_>();

// Nodes a walk of the base level expands at a step (base_walk_): 3 unless a call asks otherwise (bench/search's
// 1M index: a 50 % filter's walk 0.85–0.89 × the time of one node a step, the unfiltered walk 0.91 ×, the same recall), at most 8.
std::size_t const default_walk_beam = 3;
std::size_t const max_walk_beam = 8;
constexpr slot_t_ no_slot = 0xFFFFFFFFu;

// The codes of all slots, one row each (rows padded to whole 8-byte words), in huge pages, grown by
// copying while no search or add runs.
class code_rows_t {
  public:
    std::size_t bytes = 0;  // bytes of a code (ceil(dimensions / 8))
    std::size_t stride = 0; // bytes of a row
    std::size_t words = 0;  // 8-byte words of a row
    std::size_t capacity = 0;
    byte_t* data = nullptr;

    explicit code_rows_t(std::size_t dimensions) noexcept
        : bytes((dimensions + 7) / 8), stride((bytes + 7) / 8 * 8), words(stride / 8) {}
    ~code_rows_t() {
        if (data) ::munmap(data, round_to_huge(capacity * stride));
    }
    code_rows_t(code_rows_t const&) = delete;
    code_rows_t& operator=(code_rows_t const&) = delete;

    byte_t* row(std::size_t slot) const noexcept { return data + slot * stride; }

    // Gives the rows' memory back (the graph reads shared codes instead).
    void release() noexcept {
        if (data) ::munmap(data, round_to_huge(capacity * stride));
        data = nullptr;
        capacity = 0;
    }

    bool reserve(std::size_t rows, std::size_t used) noexcept {
        if (rows <= capacity) return true;
        byte_t* grown = map_huge(round_to_huge(rows * stride));
        if (!grown) return false;
        if (data) {
            std::memcpy(grown, data, used * stride);
            ::munmap(data, round_to_huge(capacity * stride));
        }
        data = grown;
        capacity = rows;
        return true;
    }
};

// Hamming distance between two rows (padding bytes are zero in both).
inline float hamming(byte_t const* a, byte_t const* b, std::size_t words) noexcept {
    std::uint64_t distance = 0;
    for (std::size_t i = 0; i != words; ++i) {
        std::uint64_t x, y;
        std::memcpy(&x, a + i * 8, 8);
        std::memcpy(&y, b + i * 8, 8);
        distance += static_cast<std::uint64_t>(__builtin_popcountll(x ^ y));
    }
    return static_cast<float>(distance);
}

// Where a slot's code is: its own row (`key_of_slot` null), or the row of its key in codes the
// graph shares with the service's code store (`key_of_slot[slot]`, read through a 4-byte table).
struct codes_view_t {
    byte_t const* base;
    std::size_t stride;
    std::size_t words;
    slot_t_ const* key_of_slot;
    byte_t const* row(std::size_t slot) const noexcept {
        return base + (key_of_slot ? static_cast<std::size_t>(key_of_slot[slot]) : slot) * stride;
    }
};

// The graph's metric: Hamming distance between codes.
struct metric_t {
    codes_view_t codes;
    byte_t const* v(member_cref_t m) const noexcept { return codes.row(get_slot(m)); }
    byte_t const* v(member_citerator_t m) const noexcept { return codes.row(get_slot(m)); }
    float operator()(byte_t const* a, member_cref_t b) const noexcept { return hamming(a, v(b), codes.words); }
    float operator()(member_cref_t a, member_cref_t b) const noexcept { return hamming(v(a), v(b), codes.words); }
    float operator()(byte_t const* a, member_citerator_t b) const noexcept { return hamming(a, v(b), codes.words); }
    float operator()(member_citerator_t a, member_citerator_t b) const noexcept { return hamming(v(a), v(b), codes.words); }
};

// The two-bit estimate of a key's dot product with the query (CodeStore.estimateDots: its sign code
// read as sign × low or high level, the magnitude plane saying which), from the query's sums over
// each code byte's set bits (`table`, plane_bytes × 256): three lookups a byte, summed in float in
// interleaved chains (the walk's distances need an order, not estimateDots' last bit).
struct estimate_t {
    std::uint8_t const* planes; // plane_bytes a key
    std::size_t plane_bytes;
    float const* lows; // each key's low level
    float const* table;
    float total, high_count, low_count;
    // The query's length: the walk's distance is it less the estimate (≥ 0 up to rounding, since the
    // two-bit vectors have unit length), so that nearer is smaller, as the graph wants.
    float norm;
    // The query's components in the codes' bit order (bit j of byte p: component 8p + 7 − j), zero past the
    // dimensions, a multiple of 16: set for a walk where AVX-512 runs (see walked_), which then sums them
    // under the code's bits as masks instead of looking its bytes up in the table (the same sums, in
    // other floats' rounding: a walk's order at near ties, not the narrowing's, which stays the table's).
    float const* weights = nullptr;
    // The same components rounded to 8-bit integers (component ≈ byte × byte_scale, the largest at ±127), 64 a block in the
    // codes' bit order (block b, lane i: component 64b + 8(i / 8) + 7 − i % 8), zero past the dimensions, and each block
    // negated after it (128 bytes a block): set beside `weights` where AVX-512 VNNI runs, for the walk's distances
    // (dot_bytes). A walk by them is a walk by a query moved at most half a step (the largest component ÷ 127) in each
    // component; the estimates it hands over are summed again from `weights` in single precision.
    std::int8_t const* byte_weights = nullptr;
    float byte_scale = 0;
    // A key's high level from its low one: the two-bit vector has unit length.
    float high_level(float low) const noexcept { return std::sqrt(std::max(0.0f, 1 - low_count * low * low) / high_count); }
#if defined(__x86_64__) && defined(__GNUC__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
    LOOKBOOK_AVX512 float dot_avx512(byte_t const* code, std::size_t key) const noexcept {
        auto const* sign = reinterpret_cast<std::uint8_t const*>(code);
        std::uint8_t const* plane = planes + key * plane_bytes;
        // Two chains a sum: 16 components a step.
        __m512 signs[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()}, both[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()},
               magnitudes[2] = {_mm512_setzero_ps(), _mm512_setzero_ps()};
        std::size_t const steps = plane_bytes / 2;
        for (std::size_t step = 0; step != steps; ++step) {
            std::uint16_t s, m;
            std::memcpy(&s, sign + 2 * step, 2);
            std::memcpy(&m, plane + 2 * step, 2);
            __m512 const w = _mm512_loadu_ps(weights + 16 * step);
            std::size_t const j = step & 1;
            signs[j] = _mm512_mask_add_ps(signs[j], static_cast<__mmask16>(s), signs[j], w);
            both[j] = _mm512_mask_add_ps(both[j], static_cast<__mmask16>(s & m), both[j], w);
            magnitudes[j] = _mm512_mask_add_ps(magnitudes[j], static_cast<__mmask16>(m), magnitudes[j], w);
        }
        if (plane_bytes & 1) {
            std::uint16_t const s = sign[plane_bytes - 1], m = plane[plane_bytes - 1];
            __m512 const w = _mm512_loadu_ps(weights + 16 * steps);
            signs[0] = _mm512_mask_add_ps(signs[0], static_cast<__mmask16>(s), signs[0], w);
            both[0] = _mm512_mask_add_ps(both[0], static_cast<__mmask16>(s & m), both[0], w);
            magnitudes[0] = _mm512_mask_add_ps(magnitudes[0], static_cast<__mmask16>(m), magnitudes[0], w);
        }
        float const all = _mm512_reduce_add_ps(_mm512_add_ps(signs[0], signs[1]));
        float const high_signs = _mm512_reduce_add_ps(_mm512_add_ps(both[0], both[1]));
        float const high_all = _mm512_reduce_add_ps(_mm512_add_ps(magnitudes[0], magnitudes[1]));
        float const low = lows[key];
        float const high = high_level(low);
        return low * (2 * all - total) + (high - low) * (2 * high_signs - high_all);
    }
    // The estimate from the 8-bit components: each code bit picks a component's byte or its negation (the sign), each plane
    // bit whether it goes to the high level's sum too (the low level's is the rest), summed in fours into 32-bit lanes
    // (VPDPBUSD), 64 components a step where dot_avx512 takes three masked float adds for 16: its walks 0.80–0.88 × the
    // time of that kernel's on bench/search's 1M index, whose sums took most of a walk by the estimate (README, *Walks by
    // the estimate in bytes*).
    LOOKBOOK_AVX512_VNNI float dot_bytes(byte_t const* code, std::size_t key) const noexcept {
        auto const* sign = reinterpret_cast<std::uint8_t const*>(code);
        std::uint8_t const* plane = planes + key * plane_bytes;
        __m512i const ones = _mm512_set1_epi8(1);
        __m512i all_sum = _mm512_setzero_si512(), high_sum = _mm512_setzero_si512();
        std::size_t const blocks = (plane_bytes + 7) / 8, whole = plane_bytes / 8;
        for (std::size_t block = 0; block != blocks; ++block) {
            std::uint64_t s = 0, m = 0;
            if (block < whole) {
                std::memcpy(&s, sign + 8 * block, 8);
                std::memcpy(&m, plane + 8 * block, 8);
            } else
                for (std::size_t byte = 0; 8 * block + byte < plane_bytes; ++byte) {
                    s |= std::uint64_t{sign[8 * block + byte]} << (8 * byte);
                    m |= std::uint64_t{plane[8 * block + byte]} << (8 * byte);
                }
            __m512i const positive = _mm512_loadu_si512(byte_weights + 128 * block), negative = _mm512_loadu_si512(byte_weights + 128 * block + 64);
            __m512i const signed_bytes = _mm512_mask_blend_epi8(_cvtu64_mask64(s), negative, positive);
            all_sum = _mm512_dpbusd_epi32(all_sum, ones, signed_bytes);
            high_sum = _mm512_dpbusd_epi32(high_sum, ones, _mm512_maskz_mov_epi8(_cvtu64_mask64(m), signed_bytes));
        }
        float const low = lows[key];
        float const high = high_level(low);
        // The low levels' sum is the whole sum less the high ones' (exact in integers): one masked move a block fewer.
        std::int32_t const high_part = _mm512_reduce_add_epi32(high_sum), low_part = _mm512_reduce_add_epi32(all_sum) - high_part;
        return byte_scale * (low * static_cast<float>(low_part) + high * static_cast<float>(high_part));
    }
#pragma GCC diagnostic pop
#endif
    float dot(byte_t const* code, std::size_t key) const noexcept {
#if defined(__x86_64__) && defined(__GNUC__)
        if (byte_weights) return dot_bytes(code, key);
#endif
        return exact(code, key);
    }
    // The estimate in single precision, from the float components (AVX-512) or the table: what a walk hands over.
    float exact(byte_t const* code, std::size_t key) const noexcept {
#if defined(__x86_64__) && defined(__GNUC__)
        if (weights) return dot_avx512(code, key);
#endif
        auto const* sign = reinterpret_cast<std::uint8_t const*>(code);
        std::uint8_t const* plane = planes + key * plane_bytes;
        // Four bytes a step, each into chains of its own: the sums' add latency, not the lookups, bounds one chain.
        float signs[4] = {0, 0, 0, 0}, both[4] = {0, 0, 0, 0}, magnitudes[4] = {0, 0, 0, 0};
        float const* t = table;
        std::size_t position = 0;
        for (; position + 4 <= plane_bytes; position += 4, t += 1024) {
            for (std::size_t j = 0; j != 4; ++j) {
                std::uint8_t const s = sign[position + j], m = plane[position + j];
                signs[j] += t[256 * j + s], both[j] += t[256 * j + (s & m)], magnitudes[j] += t[256 * j + m];
            }
        }
        for (std::size_t j = 0; position < plane_bytes; ++position, ++j, t += 256) {
            std::uint8_t const s = sign[position], m = plane[position];
            signs[j] += t[s], both[j] += t[s & m], magnitudes[j] += t[m];
        }
        float const low = lows[key];
        float const high = high_level(low);
        float const all = (signs[0] + signs[1]) + (signs[2] + signs[3]);
        float const high_signs = (both[0] + both[1]) + (both[2] + both[3]);
        float const high_all = (magnitudes[0] + magnitudes[1]) + (magnitudes[2] + magnitudes[3]);
        return low * (2 * all - total) + (high - low) * (2 * high_signs - high_all);
    }
    // A walk's distance by the estimate: the query's length less it.
    float distance(byte_t const* code, std::size_t key) const noexcept { return norm - dot(code, key); }
    // The estimate a walk hands over for a candidate it found at `walked` (its distance): summed again in single precision
    // where the walk went by the 8-bit components, else the walk's own.
    float handed_over(byte_t const* code, std::size_t key, float walked) const noexcept { return byte_weights ? exact(code, key) : norm - walked; }
    // Reads what dot(code, key) will (the code, the plane and the level), for a load ahead of it.
    std::uint64_t touch(byte_t const* code, std::size_t key) const noexcept {
        return *reinterpret_cast<std::uint64_t const volatile*>(code) + *reinterpret_cast<std::uint8_t const volatile*>(planes + key * plane_bytes) +
               static_cast<std::uint64_t>(*reinterpret_cast<float const volatile*>(lows + key) != 0);
    }
};

// A walk's metric by the two-bit estimate: the query's length less it (the query argument, its sign
// code, is not read).
struct estimate_metric_t {
    codes_view_t codes;
    estimate_t const* estimate;
    template <typename member_at> float distance(member_at const& m) const noexcept {
        std::size_t const slot = get_slot(m);
        std::size_t const key = codes.key_of_slot ? codes.key_of_slot[slot] : static_cast<std::size_t>(get_key(m));
        return estimate->distance(codes.row(slot), key);
    }
    float operator()(byte_t const*, member_cref_t b) const noexcept { return distance(b); }
    float operator()(byte_t const*, member_citerator_t b) const noexcept { return distance(b); }
};

// load_ahead_t for the estimate's walk: each unvisited neighbour's code, plane and level.
struct estimate_ahead_t {
    codes_view_t codes;
    estimate_t const* estimate;
    std::uint64_t* sink;
    template <typename iterator_at> void operator()(iterator_at begin, iterator_at end) const noexcept {
        std::uint64_t sum = 0;
        for (; begin != end; ++begin) {
            std::size_t const slot = get_slot(begin);
            std::size_t const key = codes.key_of_slot ? codes.key_of_slot[slot] : static_cast<std::size_t>(get_key(begin));
            sum += estimate->touch(codes.row(slot), key);
        }
        *sink += sum;
    }
};

// Loads the first word of each unvisited neighbour's code before the distance loop reads them, so
// that their misses overlap (prefetch instructions gained nothing on the VMs measured).
struct load_ahead_t {
    codes_view_t codes;
    std::uint64_t* sink;
    template <typename iterator_at> void operator()(iterator_at begin, iterator_at end) const noexcept {
        std::uint64_t sum = 0;
        for (; begin != end; ++begin) sum += *reinterpret_cast<std::uint64_t const volatile*>(codes.row(get_slot(begin)));
        *sink += sum;
    }
};

// Candidates that are not removed entries.
struct live_t {
    std::uint64_t const* removed;
    bool operator()(member_cref_t const& member) const noexcept {
        std::size_t slot = get_slot(member);
        return !((removed[slot >> 6] >> (slot & 63)) & 1u);
    }
};

// One condition of a filter: a column of value ids by key (1, 2 or 4 bytes each; 0 is no value) and
// the ids it accepts, a bit each; or (width 0) the keys that pass, a bit each (`values`, `length`
// bits): a dense filter's walk tests ~400 keys at random, and a bit a key (125 kB at 1M) stays in the
// CPU's caches where a byte a key is read from memory (FilterIndex's value bitsets).
struct condition_t {
    void const* values;
    std::size_t width;
    std::size_t length;
    std::uint8_t const* accept;
    std::size_t accepted_ids; // bits in `accept`
    bool has(std::size_t key) const noexcept {
        if (key >= length) return false;
        if (width == 0) return (static_cast<std::uint8_t const*>(values)[key >> 3] >> (key & 7)) & 1u;
        std::size_t id = width == 1   ? static_cast<std::uint8_t const*>(values)[key]
                         : width == 2 ? static_cast<std::uint16_t const*>(values)[key]
                                      : static_cast<std::uint32_t const*>(values)[key];
        return id != 0 && id < accepted_ids && ((accept[id >> 3] >> (id & 7)) & 1u);
    }
};

// Live candidates whose keys meet every condition; counts the candidates it was asked about (those
// near enough to enter the walk's list) and those that passed.
struct matching_t {
    condition_t const* conditions;
    std::size_t count;
    std::uint64_t const* removed; // null when there are no removed entries
    slot_t_ const* key_of_slot;   // null when keys are read from the nodes
    std::size_t* asked;
    std::size_t* passed;
    bool operator()(member_cref_t const& member) const noexcept {
        std::size_t slot = get_slot(member);
        return passes(slot, key_of_slot ? key_of_slot[slot] : static_cast<std::size_t>(get_key(member)));
    }
    bool passes(std::size_t slot, std::size_t key) const noexcept {
        ++*asked;
        if (removed && ((removed[slot >> 6] >> (slot & 63)) & 1u)) return false;
        for (std::size_t i = 0; i != count; ++i)
            if (!conditions[i].has(key)) return false;
        ++*passed;
        return true;
    }
};

// Sets a code's bits where the value is above zero, first dimension in the highest bit of the
// first byte: USearch's cast from f32 to b1x8 and the service's packSignBits.
inline void pack_signs(float const* values, std::size_t dimensions, byte_t* out, std::size_t stride) noexcept {
    std::memset(out, 0, stride);
    for (std::size_t i = 0; i != dimensions; ++i)
        if (values[i] > 0) out[i / 8] |= static_cast<byte_t>(128u >> (i & 7));
}

struct file_t {
    std::FILE* handle = nullptr;
    ~file_t() {
        if (handle) std::fclose(handle);
    }
};

class Graph : public Napi::ObjectWrap<Graph> {
  public:
    static Napi::Function Define(Napi::Env env) {
        return DefineClass(env, "Graph",
                           {
                               InstanceMethod("size", &Graph::Size),
                               InstanceMethod("contains", &Graph::Contains),
                               InstanceMethod("add", &Graph::Add),
                               InstanceMethod("remove", &Graph::Remove),
                               InstanceMethod("search", &Graph::Search),
                               InstanceMethod("searchMany", &Graph::SearchMany),
                               InstanceMethod("searchFiltered", &Graph::SearchFiltered),
                               InstanceMethod("searchFrom", &Graph::SearchFrom),
                               InstanceMethod("save", &Graph::Save),
                               InstanceMethod("load", &Graph::Load),
                               InstanceMethod("clear", &Graph::Clear),
                               InstanceMethod("memoryUsage", &Graph::MemoryUsage),
                               InstanceMethod("shareCodes", &Graph::ShareCodes),
                           });
    }

    // new Graph(dimensions, connectivity, expansionAdd, expansionSearch); zeros take USearch's defaults.
    explicit Graph(Napi::CallbackInfo const& info) : Napi::ObjectWrap<Graph>(info) {
        Napi::Env env = info.Env();
        if (info.Length() < 4 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber())
            throw Napi::TypeError::New(env, "new Graph(dimensions, connectivity, expansionAdd, expansionSearch)");
        dimensions_ = info[0].As<Napi::Number>().Uint32Value();
        if (dimensions_ == 0) throw Napi::RangeError::New(env, "dimensions must be positive");
        std::size_t connectivity = info[1].As<Napi::Number>().Uint32Value();
        expansion_add_ = info[2].As<Napi::Number>().Uint32Value();
        expansion_search_ = info[3].As<Napi::Number>().Uint32Value();
        if (!expansion_add_) expansion_add_ = default_expansion_add();
        if (!expansion_search_) expansion_search_ = default_expansion_search();
        config_ = index_config_t(connectivity ? connectivity : default_connectivity());
        if (unum::usearch::error_t error = config_.validate()) throw Napi::RangeError::New(env, error.release());
        threads_ = std::max<std::size_t>(1, std::thread::hardware_concurrency());
        reset_();
    }

  private:
    std::size_t dimensions_ = 0;
    std::size_t expansion_add_ = 0;
    std::size_t expansion_search_ = 0;
    std::size_t threads_ = 1;
    index_config_t config_;
    std::unique_ptr<graph_t> graph_;
    std::unique_ptr<code_rows_t> rows_;
    std::vector<slot_t_> slot_of_key_;    // no_slot where a key is absent
    std::vector<std::uint64_t> removed_;  // a bit per slot
    std::vector<slot_t_> free_slots_;     // removed slots, reused by adds
    std::uint64_t loaded_ = 0;            // the sum of the codes load_ahead_t read (so the loads stay)
    // Shared codes (see ShareCodes): where they are, how many slots they hold, and each graph slot's key.
    byte_t const* shared_ = nullptr;
    std::size_t shared_slots_ = 0;
    std::vector<slot_t_> key_of_slot_;

    codes_view_t codes_() const noexcept {
        if (shared_) return {shared_, rows_->stride, rows_->words, key_of_slot_.data()};
        return {rows_->data, rows_->stride, rows_->words, nullptr};
    }

    void reset_() {
        graph_ = std::make_unique<graph_t>(config_);
        rows_ = std::make_unique<code_rows_t>(dimensions_);
        slot_of_key_.clear();
        slot_of_key_.shrink_to_fit();
        removed_.clear();
        removed_.shrink_to_fit();
        free_slots_.clear();
        free_slots_.shrink_to_fit();
        shared_ = nullptr;
        shared_slots_ = 0;
        key_of_slot_.clear();
        key_of_slot_.shrink_to_fit();
    }

    std::size_t live_() const noexcept { return graph_->size() - free_slots_.size(); }

    slot_t_ slot_of_(key_t_ key) const noexcept { return key < slot_of_key_.size() ? slot_of_key_[key] : no_slot; }

    // Room for `members` slots in the graph, the rows and the removed bitmap; false when out of memory.
    bool reserve_(std::size_t members) {
        if (members <= graph_->capacity() && (shared_ ? members <= key_of_slot_.size() : members <= rows_->capacity)) return true;
        // Doubling, as USearch's binding does (ceil2 of what is needed).
        std::size_t target = 1;
        while (target < members) target <<= 1;
        if (!graph_->try_reserve(index_limits_t(target, threads_))) return false;
        if (shared_)
            key_of_slot_.resize(target, 0);
        else if (!rows_->reserve(target, graph_->size()))
            return false;
        removed_.resize((target + 63) / 64, 0);
        return true;
    }

    // shareCodes(buffer: ArrayBuffer, offset, stride, slots): reads codes from `buffer` (key k's at
    // offset + k × stride, for keys below `slots`: the service's code store, which holds the same
    // sign codes by vector slot) instead of rows of its own, and gives its rows back (64 bytes an
    // item at 512 dimensions). The first call checks that every live key's code there is the one the
    // graph holds, and answers false (keeping its rows) when one is not or does not fit; later calls
    // (the store's memory grown, so its buffer is another object) move the reads. The buffer must
    // outlive the graph's use of it, and change only by writes of keys before they are added here:
    // add() checks each added key's code against it.
    Napi::Value ShareCodes(Napi::CallbackInfo const& info) {
        Napi::Env env = info.Env();
        if (info.Length() < 4 || !info[0].IsArrayBuffer() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber())
            throw Napi::TypeError::New(env, "shareCodes(buffer: ArrayBuffer, offset: number, stride: number, slots: number)");
        Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
        std::size_t offset = info[1].As<Napi::Number>().Int64Value(), stride = info[2].As<Napi::Number>().Int64Value();
        std::size_t slots = info[3].As<Napi::Number>().Int64Value();
        if (stride != rows_->stride || offset > buffer.ByteLength() || slots > (buffer.ByteLength() - offset) / stride)
            return Napi::Boolean::New(env, false);
        byte_t const* base = static_cast<byte_t const*>(buffer.Data()) + offset;
        if (shared_) {
            for (std::size_t slot = 0; slot != graph_->size(); ++slot)
                if (key_of_slot_[slot] >= slots) return Napi::Boolean::New(env, false);
            shared_ = base;
            shared_slots_ = slots;
            return Napi::Boolean::New(env, true);
        }
        std::size_t const size = graph_->size();
        std::vector<slot_t_> keys(std::max(graph_->capacity(), size), 0);
        std::vector<std::size_t> removed;
        for (std::size_t slot = 0; slot != size; ++slot) {
            key_t_ key = graph_->at(static_cast<slot_t_>(slot)).key;
            if (key == free_key) {
                removed.push_back(slot);
                continue;
            }
            if (key >= slots || std::memcmp(base + key * stride, rows_->row(slot), rows_->bytes) != 0) return Napi::Boolean::New(env, false);
            keys[slot] = static_cast<slot_t_>(key);
        }
        // A removed entry's code is gone with its key: it reads the code of a live neighbour, near
        // where it was, so that walks through it still head the right way.
        for (std::size_t slot : removed) {
            for (member_cref_t neighbour : graph_->neighbors(static_cast<slot_t_>(slot), 0)) {
                key_t_ key = neighbour.key;
                if (key != free_key) {
                    keys[slot] = static_cast<slot_t_>(key);
                    break;
                }
            }
        }
        key_of_slot_ = std::move(keys);
        shared_ = base;
        shared_slots_ = slots;
        rows_->release();
        return Napi::Boolean::New(env, true);
    }

    Napi::Value Size(Napi::CallbackInfo const& info) { return Napi::Number::New(info.Env(), static_cast<double>(live_())); }

    Napi::Value Contains(Napi::CallbackInfo const& info) {
        return Napi::Boolean::New(info.Env(), slot_of_(static_cast<key_t_>(info[0].As<Napi::Number>().Int64Value())) != no_slot);
    }

    Napi::Value MemoryUsage(Napi::CallbackInfo const& info) {
        // The nodes' own bytes (the tape packs them on 8-byte boundaries: no allocator's entry overhead) and the node table.
        // USearch's count walks every node: callers keep the figure rather than ask at each search.
        std::size_t bytes = graph_->memory_usage(0) + rows_->capacity * rows_->stride + (slot_of_key_.capacity() + key_of_slot_.capacity()) * sizeof(slot_t_) +
                            removed_.capacity() * 8 + free_slots_.capacity() * sizeof(slot_t_);
        return Napi::Number::New(info.Env(), static_cast<double>(bytes));
    }

    // add(keys: Uint32Array, vectors: Float32Array (keys × dimensions), threads): a key that is
    // already present, or repeated, is refused before anything is added.
    void Add(Napi::CallbackInfo const& info) {
        Napi::Env env = info.Env();
        if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsTypedArray() || !info[2].IsNumber())
            throw Napi::TypeError::New(env, "add(keys: Uint32Array, vectors: Float32Array, threads: number)");
        Napi::Uint32Array keys = info[0].As<Napi::Uint32Array>();
        Napi::Float32Array vectors = info[1].As<Napi::Float32Array>();
        std::size_t const count = keys.ElementLength();
        if (vectors.ElementLength() != count * dimensions_)
            throw Napi::RangeError::New(env, "add: vectors must hold keys × dimensions values");
        if (!count) return;
        std::uint32_t const* key_data = keys.Data();
        key_t_ highest = 0;
        for (std::size_t i = 0; i != count; ++i) {
            if (key_data[i] == no_slot) throw Napi::RangeError::New(env, "add: keys must be below 2^32 - 1");
            highest = std::max<key_t_>(highest, key_data[i]);
        }
        if (highest >= slot_of_key_.size()) slot_of_key_.resize(std::max<std::size_t>(highest + 1, slot_of_key_.size() * 3 / 2), no_slot);
        // Refuse keys present already or repeated in the batch (marked, checked, unmarked).
        std::size_t marked = 0;
        bool duplicate = false;
        for (; marked != count; ++marked) {
            slot_t_& entry = slot_of_key_[key_data[marked]];
            if (entry != no_slot) {
                duplicate = true;
                break;
            }
            entry = no_slot - 1;
        }
        for (std::size_t i = 0; i != marked; ++i) slot_of_key_[key_data[i]] = no_slot;
        if (duplicate) throw Napi::Error::New(env, "add: duplicate key " + std::to_string(key_data[marked]));
        float const* values = vectors.Data();
        if (shared_) {
            // The code store writes a key's code before the key is added here: anything else is a bug to stop at.
            std::vector<byte_t> code(rows_->stride);
            for (std::size_t i = 0; i != count; ++i) {
                pack_signs(values + i * dimensions_, dimensions_, code.data(), rows_->stride);
                if (key_data[i] >= shared_slots_ || std::memcmp(code.data(), shared_ + std::size_t{key_data[i]} * rows_->stride, rows_->bytes) != 0)
                    throw Napi::Error::New(env, "add: key " + std::to_string(key_data[i]) + "'s code is not the shared codes' one");
            }
        }

        // Removed slots are reused first, the rest appended.
        std::size_t const reused = std::min(count, free_slots_.size());
        if (!reserve_(graph_->size() + (count - reused))) throw Napi::Error::New(env, "add: out of memory");
        std::vector<slot_t_> reuse(free_slots_.end() - reused, free_slots_.end());
        free_slots_.resize(free_slots_.size() - reused);

        std::size_t threads = info[2].As<Napi::Number>().Uint32Value();
        if (threads == 0) threads = threads_;
        threads = std::min({threads, threads_, count});
        // Each thread adds one run of the batch's keys, in order, rather than the next key any thread
        // is free for: keys side by side in a batch are often nearly alike (a product's variants,
        // upserted together), and two such keys added at the same time do not find each other, link
        // to the same far nodes, whose lists then keep one of them. Added two at a time that way, 7.5 %
        // of 20,000 items in groups of ten nearly alike were out of reach of walks to their group
        // (0.925 of each group found at any ef); added in runs, none, as on one thread.
        std::size_t const run = (count + threads - 1) / threads;
        std::atomic<bool> failed{false};
        std::string failure;
        std::vector<std::uint64_t> sinks(threads, 0);
        auto work = [&](std::size_t thread) {
            std::vector<byte_t> code(rows_->stride);
            metric_t metric{codes_()};
            load_ahead_t ahead{codes_(), &sinks[thread]};
            index_update_config_t config;
            config.expansion = expansion_add_;
            config.thread = thread;
            for (std::size_t i = thread * run, end = std::min(count, i + run); i < end && !failed.load(); ++i) {
                key_t_ key = key_data[i];
                pack_signs(values + i * dimensions_, dimensions_, code.data(), rows_->stride);
                auto on_success = [&](graph_t::member_ref_t member) {
                    if (shared_)
                        key_of_slot_[get_slot(member)] = static_cast<slot_t_>(key);
                    else
                        std::memcpy(rows_->row(get_slot(member)), code.data(), rows_->stride);
                    slot_of_key_[key] = static_cast<slot_t_>(get_slot(member));
                };
                auto result = i < reused ? graph_->update(graph_->iterator_at(reuse[i]), key, code.data(), metric, config, on_success, ahead)
                                         : graph_->add(key, code.data(), metric, config, on_success, ahead);
                if (!result) {
                    if (!failed.exchange(true)) failure = result.error.release();
                    break;
                }
                if (i < reused) removed_[reuse[i] >> 6] &= ~(std::uint64_t{1} << (reuse[i] & 63));
            }
        };
        // USearch's executor: thread 0 is this one, the others are joined before it returns.
        executor_stl_t{threads}.parallel(work);
        for (auto sink : sinks) loaded_ += sink;
        if (failed) throw Napi::Error::New(env, "add: " + failure);
    }

    // remove(key): true when it was present.
    Napi::Value Remove(Napi::CallbackInfo const& info) {
        key_t_ key = static_cast<key_t_>(info[0].As<Napi::Number>().Int64Value());
        slot_t_ slot = slot_of_(key);
        if (slot == no_slot) return Napi::Boolean::New(info.Env(), false);
        free_slots_.push_back(slot);
        slot_of_key_[key] = no_slot;
        graph_->at(slot).key = free_key;
        removed_[slot >> 6] |= std::uint64_t{1} << (slot & 63);
        return Napi::Boolean::New(info.Env(), true);
    }

    // One walk into `keys` and `distances` (room for `wanted`), keeping candidates that `keep` passes
    // (live ones when it is null); the count found. With `estimate`, the walk's distance is the
    // two-bit estimate's (see estimate_metric_t), each found key's estimate goes into `estimates` and
    // its Hamming distance into `distances`, as without.
    std::size_t walk_(float const* query, std::size_t wanted, std::size_t thread, byte_t* code, std::uint32_t* keys, float* distances,
                      std::uint64_t* sink, matching_t const* keep = nullptr, estimate_t const* estimate = nullptr, float* estimates = nullptr) const {
        pack_signs(query, dimensions_, code, rows_->stride);
        index_search_config_t config;
        config.expansion = expansion_search_; // or `wanted`, when larger
        config.thread = thread;
        codes_view_t const codes = codes_();
        auto take = [&](auto&& result) -> std::size_t {
            if (!result) throw std::runtime_error(result.error.release());
            std::size_t found = std::min(result.count, wanted);
            for (std::size_t i = 0; i != found; ++i) {
                auto match = result[i];
                keys[i] = static_cast<std::uint32_t>(match.member.key);
                if (!estimate) {
                    distances[i] = match.distance;
                    continue;
                }
                std::size_t const slot = get_slot(match.member);
                estimates[i] = estimate->handed_over(codes.row(slot), codes.key_of_slot ? codes.key_of_slot[slot] : static_cast<std::size_t>(match.member.key), match.distance);
                distances[i] = hamming(code, codes.row(slot), codes.words);
            }
            if (estimate && estimate->byte_weights) by_estimate_(found, keys, distances, estimates);
            return found;
        };
        auto run = [&](auto const& metric, auto const& ahead) -> std::size_t {
            if (keep) return take(graph_->search(code, wanted, metric, config, *keep, ahead));
            if (free_slots_.empty()) return take(graph_->search(code, wanted, metric, config, dummy_predicate_t{}, ahead));
            return take(graph_->search(code, wanted, metric, config, live_t{removed_.data()}, ahead));
        };
        if (estimate) return run(estimate_metric_t{codes, estimate}, estimate_ahead_t{codes, estimate, sink});
        return run(metric_t{codes}, load_ahead_t{codes, sink});
    }

    // The two-bit estimate a search was given as its last argument ({ planes: Uint8Array, planeBytes,
    // lows: Float32Array, sums: Float32Array, total, highCount, lowCount, norm }: CodeStore's magnitude
    // planes and levels by key, and the query's byte sums), checked against the shared codes it
    // stands beside; false when the argument is absent or undefined.
    bool estimate_(Napi::CallbackInfo const& info, std::size_t at, char const* name, estimate_t& out) const {
        Napi::Env env = info.Env();
        if (info.Length() <= at || info[at].IsUndefined()) return false;
        if (!info[at].IsObject()) throw Napi::TypeError::New(env, std::string(name) + ": the estimate must be an object");
        Napi::Object object = info[at].As<Napi::Object>();
        Napi::Value planes = object.Get("planes"), lows = object.Get("lows"), sums = object.Get("sums");
        if (!planes.IsTypedArray() || planes.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array || !lows.IsTypedArray() ||
            lows.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array || !sums.IsTypedArray() ||
            sums.As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
            throw Napi::TypeError::New(env, std::string(name) + ": the estimate's planes must be a Uint8Array, its lows and sums Float32Arrays");
        // Each number read once: this runs before every walk by the estimate.
        char const* const fields[] = {"planeBytes", "total", "highCount", "lowCount", "norm"};
        double numbers[5];
        for (std::size_t i = 0; i != 5; ++i) {
            Napi::Value value = object.Get(fields[i]);
            if (!value.IsNumber()) throw Napi::TypeError::New(env, std::string(name) + ": the estimate's " + fields[i] + " must be a number");
            numbers[i] = value.As<Napi::Number>().DoubleValue();
        }
        if (!shared_) throw Napi::Error::New(env, std::string(name) + ": a walk by the estimate reads the code store's codes (shareCodes)");
        Napi::Uint8Array plane_array = planes.As<Napi::Uint8Array>();
        Napi::Float32Array low_array = lows.As<Napi::Float32Array>(), sum_array = sums.As<Napi::Float32Array>();
        std::size_t const plane_bytes = numbers[0] >= 0 && numbers[0] < 4294967296.0 ? static_cast<std::size_t>(numbers[0]) : 0;
        // Every key the graph can hold is below shared_slots_ (its code is read there).
        if (plane_bytes != rows_->bytes || plane_array.ByteLength() < shared_slots_ * plane_bytes || low_array.ElementLength() < shared_slots_ ||
            sum_array.ElementLength() < plane_bytes * 256)
            throw Napi::RangeError::New(env, std::string(name) + ": the estimate's arrays do not cover the shared codes");
        out = {plane_array.Data(),
               plane_bytes,
               low_array.Data(),
               sum_array.Data(),
               static_cast<float>(numbers[1]),
               static_cast<float>(numbers[2]),
               static_cast<float>(numbers[3]),
               static_cast<float>(numbers[4])};
        return true;
    }

    // { keys, distances }: the first `found` of arrays made for `wanted`.
    static Napi::Object found_(Napi::Env env, Napi::Uint32Array keys, Napi::Float32Array distances, std::size_t found, std::size_t wanted) {
        Napi::Object result = Napi::Object::New(env);
        result.Set("keys", found == wanted ? keys : Napi::Uint32Array::New(env, found, keys.ArrayBuffer(), 0));
        result.Set("distances", found == wanted ? distances : Napi::Float32Array::New(env, found, distances.ArrayBuffer(), 0));
        return result;
    }

    // A walk's beam from argument `at`: default_walk_beam when absent or undefined, else a whole number from 1 to max_walk_beam.
    static std::size_t beam_(Napi::CallbackInfo const& info, std::size_t at, char const* name) {
        if (info.Length() <= at || info[at].IsUndefined()) return default_walk_beam;
        double const beam = info[at].IsNumber() ? info[at].As<Napi::Number>().DoubleValue() : 0;
        if (!(beam >= 1 && beam <= static_cast<double>(max_walk_beam)) || beam != std::floor(beam))
            throw Napi::RangeError::New(info.Env(), std::string(name) + ": the beam must be a whole number from 1 to " + std::to_string(max_walk_beam));
        return static_cast<std::size_t>(beam);
    }

    // The walk of search, searchFrom and searchFiltered (`keep` null for the first two) for the k of
    // argument 1, by the estimate of argument `at` where one is given, from the top or, with `seeds`,
    // from them (walk_seeded_): { keys, distances, estimates? } of what it found.
    Napi::Object walked_(Napi::CallbackInfo const& info, float const* query, std::size_t at, char const* name, matching_t const* keep,
                         Napi::Uint32Array seeds = {}, std::size_t beam = default_walk_beam) {
        Napi::Env env = info.Env();
        std::size_t wanted = std::min<std::size_t>(info[1].As<Napi::Number>().Uint32Value(), live_());
        Napi::Uint32Array keys = Napi::Uint32Array::New(env, wanted);
        Napi::Float32Array distances = Napi::Float32Array::New(env, wanted);
        estimate_t estimate;
        bool const estimated = estimate_(info, at, name, estimate);
        std::vector<float> weights;
        std::vector<std::int8_t> byte_weights;
#if defined(__x86_64__) && defined(__GNUC__)
        if (estimated && scan_avx512) {
            weights.assign((estimate.plane_bytes + 1) / 2 * 16, 0.0f);
            for (std::size_t p = 0; p != estimate.plane_bytes; ++p)
                for (std::size_t j = 0; j != 8; ++j)
                    if (8 * p + 7 - j < dimensions_) weights[8 * p + j] = query[8 * p + 7 - j];
            estimate.weights = weights.data();
            if (avx512_vnni) {
                float largest = 0;
                for (float const weight : weights) largest = std::max(largest, std::fabs(weight));
                std::size_t const blocks = (estimate.plane_bytes + 7) / 8;
                byte_weights.assign(blocks * 128, 0);
                float const per_step = largest > 0 ? 127.0f / largest : 0.0f;
                for (std::size_t block = 0; block != blocks; ++block)
                    for (std::size_t lane = 0; lane != 64 && 64 * block + lane < weights.size(); ++lane) {
                        auto const rounded = static_cast<std::int8_t>(std::lrint(weights[64 * block + lane] * per_step));
                        byte_weights[128 * block + lane] = rounded;
                        byte_weights[128 * block + 64 + lane] = static_cast<std::int8_t>(-rounded);
                    }
                estimate.byte_weights = byte_weights.data();
                estimate.byte_scale = largest > 0 ? largest / 127.0f : 0.0f;
            }
        }
#endif
        Napi::Float32Array estimates = Napi::Float32Array::New(env, estimated ? wanted : 0);
        std::size_t found = 0;
        if (wanted) {
            std::vector<byte_t> code(rows_->stride);
            estimate_t const* by = estimated ? &estimate : nullptr;
            float* estimate_out = estimated ? estimates.Data() : nullptr;
            try {
                found = seeds.IsEmpty() ? walk_(query, wanted, 0, code.data(), keys.Data(), distances.Data(), &loaded_, keep, by, estimate_out)
                                        : walk_seeded_(query, seeds.Data(), seeds.ElementLength(), wanted, code.data(), keys.Data(), distances.Data(),
                                                       &loaded_, keep, by, estimate_out, beam);
            } catch (std::exception const& error) {
                throw Napi::Error::New(env, std::string(name) + ": " + error.what());
            }
        }
        Napi::Object result = found_(env, keys, distances, found, wanted);
        if (estimated) result.Set("estimates", found == wanted ? estimates : Napi::Float32Array::New(env, found, estimates.ArrayBuffer(), 0));
        return result;
    }

    // search(query: Float32Array, k, estimate?) → { keys: Uint32Array, distances: Float32Array, estimates? },
    // nearest first: by Hamming distance, or with an estimate (see estimate_) by the two-bit estimate,
    // highest first, with each key's estimate in `estimates` (and its Hamming distance in `distances`).
    Napi::Value Search(Napi::CallbackInfo const& info) {
        Napi::Env env = info.Env();
        if (info.Length() < 2 || !info[0].IsTypedArray() || !info[1].IsNumber())
            throw Napi::TypeError::New(env, "search(query: Float32Array, k: number)");
        Napi::Float32Array query = info[0].As<Napi::Float32Array>();
        if (query.ElementLength() != dimensions_) throw Napi::RangeError::New(env, "search: the query must have the graph's dimensions");
        return walked_(info, query.Data(), 2, "search", nullptr);
    }

    // searchFrom(query: Float32Array, k, seeds: Uint32Array, beam?) → { keys, distances }: the k nearest live
    // keys by Hamming distance, nearest first, from a walk of the base level alone that starts at the
    // seeds (keys; those the graph does not hold are passed over) instead of at the node the upper
    // levels lead to. For a query whose walk from the top stopped in the wrong part of the graph (the
    // walk guard's sample holds a code nearer than any it found), started at the sample's nearest
    // codes. The walk is USearch's base-level search (its ef the graph's, or k when larger; removed
    // entries crossed but not kept) with the same loads ahead of each expansion's distances, expanding
    // `beam` nodes a step (default_walk_beam when absent; 1 is USearch's walk).
    Napi::Value SearchFrom(Napi::CallbackInfo const& info) {
        Napi::Env env = info.Env();
        if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsTypedArray() ||
            info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array)
            throw Napi::TypeError::New(env, "searchFrom(query: Float32Array, k: number, seeds: Uint32Array, beam?: number)");
        Napi::Float32Array query = info[0].As<Napi::Float32Array>();
        if (query.ElementLength() != dimensions_) throw Napi::RangeError::New(env, "searchFrom: the query must have the graph's dimensions");
        // By Hamming distance: no argument is read as an estimate.
        return walked_(info, query.Data(), std::numeric_limits<std::size_t>::max(), "searchFrom", nullptr, info[2].As<Napi::Uint32Array>(), beam_(info, 3, "searchFrom"));
    }

    // One walk of the base level from `seeds` (base_walk_, expanding `beam` nodes at a time) into `keys` and `distances` (room
    // for `wanted`), keeping the candidates `keep` passes (live ones when it is null), by the `estimate`
    // where given (each found key's estimate into `estimates`, its Hamming distance into `distances`,
    // as walk_ does); the count found.
    std::size_t walk_seeded_(float const* query, std::uint32_t const* seeds, std::size_t seed_count, std::size_t wanted, byte_t* code, std::uint32_t* keys,
                             float* distances, std::uint64_t* sink, matching_t const* keep, estimate_t const* estimate, float* estimates,
                             std::size_t beam) const {
        pack_signs(query, dimensions_, code, rows_->stride);
        codes_view_t const codes = codes_();
        std::uint64_t const* removed = free_slots_.empty() ? nullptr : removed_.data();
        auto key_of = [&](slot_t_ slot) -> std::size_t { return codes.key_of_slot ? codes.key_of_slot[slot] : static_cast<std::size_t>(graph_->at(slot).key); };
        auto accept = [&](slot_t_ slot) {
            if (keep) return keep->passes(slot, key_of(slot));
            return !removed || !((removed[slot >> 6] >> (slot & 63)) & 1u);
        };
        std::size_t const ef = std::max(expansion_search_, wanted);
        std::vector<std::pair<float, slot_t_>> kept;
        if (estimate)
            base_walk_(
                seeds, seed_count, ef, [&](slot_t_ slot) { return estimate->distance(codes.row(slot), key_of(slot)); },
                [&](slot_t_ slot) { return estimate->touch(codes.row(slot), key_of(slot)); }, accept, beam, sink, kept);
        else
            base_walk_(
                seeds, seed_count, ef, [&](slot_t_ slot) { return hamming(code, codes.row(slot), codes.words); },
                [&](slot_t_ slot) { return *reinterpret_cast<std::uint64_t const volatile*>(codes.row(slot)); }, accept, beam, sink, kept);
        std::size_t const found = std::min(wanted, kept.size());
        for (std::size_t i = 0; i != found; ++i) {
            slot_t_ const slot = kept[i].second;
            keys[i] = static_cast<std::uint32_t>(graph_->at(slot).key);
            if (!estimate) {
                distances[i] = kept[i].first;
                continue;
            }
            estimates[i] = estimate->handed_over(codes.row(slot), key_of(slot), kept[i].first);
            distances[i] = hamming(code, codes.row(slot), codes.words);
        }
        if (estimate && estimate->byte_weights) by_estimate_(found, keys, distances, estimates);
        return found;
    }

    // The first `found` of keys, distances and estimates in the order of the estimates, highest first (ties as they were): a
    // walk by the 8-bit components (estimate_t::dot_bytes) ranks by them, its estimates are summed again in floats.
    static void by_estimate_(std::size_t found, std::uint32_t* keys, float* distances, float* estimates) {
        std::vector<std::size_t> order(found);
        for (std::size_t i = 0; i != found; ++i) order[i] = i;
        std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return estimates[a] > estimates[b]; });
        std::vector<std::uint32_t> sorted_keys(found);
        std::vector<float> sorted_distances(found), sorted_estimates(found);
        for (std::size_t i = 0; i != found; ++i) {
            sorted_keys[i] = keys[order[i]];
            sorted_distances[i] = distances[order[i]];
            sorted_estimates[i] = estimates[order[i]];
        }
        std::copy(sorted_keys.begin(), sorted_keys.end(), keys);
        std::copy(sorted_distances.begin(), sorted_distances.end(), distances);
        std::copy(sorted_estimates.begin(), sorted_estimates.end(), estimates);
    }

    // A walk of the base level alone from the `seeds` (keys; those the graph does not hold are passed
    // over) with a list of `ef`, into `kept` (distance and slot, nearest first, at most ef): USearch's
    // search_to_find_in_base_, keeping only the nodes `accept` passes and crossing the others (expanded
    // while they are near enough, as USearch's filtered search does). `load(slot)` reads what
    // `distance(slot)` will, for each expansion's unvisited neighbours ahead of their distances, so
    // that their misses overlap (load_ahead_t). (A walk that never stepped on the nodes `accept`
    // refuses was tried and dropped: on half the items of bench:search's 1M index it found 85 of the
    // two-bit estimate's 107 best on average where a crossing walk found ~100, and at equal time its
    // recall@10 was lower: README, "Filtered walks from the sample".)
    //
    // It expands the `beam` nearest candidates left (those near enough) at once, not one: their nodes
    // are read side by side, then all their unvisited neighbours' codes, so that the misses of a step
    // overlap instead of following each other (a walk of one node at a time waits for a node, then for
    // its neighbours' codes, ~190 times for a 50 % filter at 1M). A wider step may expand a node that
    // the first node's neighbours would have put past the list's end; the list and the stop are the
    // same (README, "Walks that expand three nodes a step").
    template <typename distance_at, typename load_at, typename accept_at>
    void base_walk_(std::uint32_t const* seeds, std::size_t seed_count, std::size_t ef, distance_at&& distance, load_at&& load, accept_at&& accept,
                    std::size_t beam, std::uint64_t* sink, std::vector<std::pair<float, slot_t_>>& kept) const {
        using candidate_t = std::pair<float, slot_t_>;
        // The slots seen: the hash set USearch's own base-level search keeps, reserved ahead of each expansion as there,
        // and at first for ~16 visits a slot of the list (a walk visits ~10–15 × its ef): each growth rehashes it.
        growing_hash_set_gt<slot_t_> seen;
        if (!seen.reserve(std::max(seed_count, 16 * ef))) throw std::runtime_error("out of memory");
        std::priority_queue<candidate_t, std::vector<candidate_t>, std::greater<candidate_t>> next; // nearest first
        std::priority_queue<candidate_t> top;                                                       // farthest first, at most ef
        float radius = std::numeric_limits<float>::infinity();
        // A node near enough to enter the list is expanded; it is kept if it passes (asked only then, as USearch's filtered search asks).
        auto offer = [&](float d, slot_t_ slot) {
            if (top.size() >= ef && d >= radius) return;
            next.push({d, slot});
            if (!accept(slot)) return;
            top.push({d, slot});
            if (top.size() > ef) top.pop();
            if (top.size() >= ef) radius = top.top().first;
        };
        for (std::size_t i = 0; i != seed_count; ++i) {
            slot_t_ const slot = slot_of_(seeds[i]);
            if (slot == no_slot || seen.set(slot)) continue;
            offer(distance(slot), slot);
        }
        std::uint64_t loads = 0;
        std::vector<slot_t_> fresh;
        std::size_t const width = std::min<std::size_t>(std::max<std::size_t>(beam, 1), max_walk_beam);
        slot_t_ step[max_walk_beam];
        while (!next.empty()) {
            std::size_t taken = 0;
            for (; taken != width && !next.empty(); ++taken) {
                candidate_t const candidate = next.top();
                if (top.size() >= ef && candidate.first > radius) break;
                next.pop();
                step[taken] = candidate.second;
            }
            if (!taken) break;
            // The nodes' first loads, side by side (their neighbour counts, summed so that the loads stay).
            std::size_t links = 0;
            for (std::size_t i = 0; i != taken; ++i) links += graph_->neighbors(step[i], 0).size();
            if (!seen.reserve(seen.size() + links)) throw std::runtime_error("out of memory");
            fresh.clear();
            for (std::size_t i = 0; i != taken; ++i) {
                auto const neighbors = graph_->neighbors(step[i], 0);
                for (auto it = neighbors.begin(); it != neighbors.end(); ++it) {
                    slot_t_ const slot = it.slot();
                    if (!seen.set(slot)) fresh.push_back(slot);
                }
            }
            for (slot_t_ slot : fresh) loads += load(slot);
            for (slot_t_ slot : fresh) offer(distance(slot), slot);
        }
        *sink += loads;
        kept.clear();
        kept.reserve(top.size());
        for (; !top.empty(); top.pop()) kept.push_back(top.top());
        std::sort(kept.begin(), kept.end());
    }

    // searchFiltered(query: Float32Array, k, conditions: [values, accept, …], estimate?, seeds?: Uint32Array, beam?) →
    // { keys, distances, asked, passed, estimates? } (the estimate as in search): the k nearest live keys that meet every condition (values: the value id of
    // each key, Uint8/16/32Array, 0 for none; accept: a Uint8Array with bit i set where id i passes; or values a Uint8Array
    // with bit k % 8 of byte k / 8 set where key k passes, and accept null),
    // from one walk (at the graph's ef, or k when larger) whose list holds only such keys: it expands
    // every node it reaches, passing or not, and stops when its k nearest passing ones are nearer
    // than any node left to expand (USearch's filtered search). `asked`: the candidates near enough to enter the list, `passed`:
    // those of them that met the conditions (their ratio tells a filter that holds the query's
    // neighbourhood from one that lies away from it). With seeds (keys), the walk is of the base
    // level from them instead of from where the upper levels lead, `beam` nodes a step (as searchFrom's).
    Napi::Value SearchFiltered(Napi::CallbackInfo const& info) {
        Napi::Env env = info.Env();
        if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsArray())
            throw Napi::TypeError::New(env, "searchFiltered(query: Float32Array, k: number, conditions: [values, accept, ...])");
        Napi::Float32Array query = info[0].As<Napi::Float32Array>();
        if (query.ElementLength() != dimensions_) throw Napi::RangeError::New(env, "searchFiltered: the query must have the graph's dimensions");
        Napi::Array list = info[2].As<Napi::Array>();
        if (list.Length() % 2 != 0) throw Napi::TypeError::New(env, "searchFiltered: conditions come in pairs of values and accepted ids");
        std::vector<condition_t> conditions;
        for (std::uint32_t i = 0; i != list.Length(); i += 2) {
            Napi::Value values = list[i], accept = list[i + 1];
            if (accept.IsNull()) {
                // A bitset of the keys that pass.
                if (!values.IsTypedArray() || values.As<Napi::TypedArray>().TypedArrayType() != napi_uint8_array)
                    throw Napi::TypeError::New(env, "searchFiltered: a condition without accepted ids must be a Uint8Array of passing keys");
                Napi::Uint8Array bits = values.As<Napi::Uint8Array>();
                conditions.push_back({bits.Data(), 0, bits.ElementLength() * 8, nullptr, 0});
                continue;
            }
            if (!values.IsTypedArray() || !accept.IsTypedArray()) throw Napi::TypeError::New(env, "searchFiltered: values and accepted ids must be typed arrays");
            Napi::TypedArray column = values.As<Napi::TypedArray>(), bits = accept.As<Napi::TypedArray>();
            napi_typedarray_type type = column.TypedArrayType();
            if ((type != napi_uint8_array && type != napi_uint16_array && type != napi_uint32_array) || bits.TypedArrayType() != napi_uint8_array)
                throw Napi::TypeError::New(env, "searchFiltered: values must be a Uint8/16/32Array, accepted ids a Uint8Array");
            conditions.push_back({static_cast<byte_t const*>(column.ArrayBuffer().Data()) + column.ByteOffset(), column.ElementSize(),
                                  column.ElementLength(), static_cast<std::uint8_t const*>(bits.ArrayBuffer().Data()) + bits.ByteOffset(),
                                  bits.ByteLength() * 8});
        }
        std::size_t asked = 0, passed = 0;
        matching_t const matching{conditions.data(), conditions.size(), free_slots_.empty() ? nullptr : removed_.data(), codes_().key_of_slot, &asked, &passed};
        bool const seeded = info.Length() > 4 && !info[4].IsUndefined();
        if (seeded && (!info[4].IsTypedArray() || info[4].As<Napi::TypedArray>().TypedArrayType() != napi_uint32_array))
            throw Napi::TypeError::New(env, "searchFiltered: seeds must be a Uint32Array");
        Napi::Object result =
            walked_(info, query.Data(), 3, "searchFiltered", &matching, seeded ? info[4].As<Napi::Uint32Array>() : Napi::Uint32Array(), beam_(info, 5, "searchFiltered"));
        result.Set("asked", Napi::Number::New(env, static_cast<double>(asked)));
        result.Set("passed", Napi::Number::New(env, static_cast<double>(passed)));
        return result;
    }

    // searchMany(queries: Float32Array (count × dimensions), count, k, threads, seeds?: Uint32Array (count × s), seedCounts?: Uint32Array (count)) →
    // { keys: Uint32Array (count × k), distances: Float32Array (count × k), counts: Uint32Array (count) }. With seeds, query i's
    // walk is searchFrom's from its first seedCounts[i] seeds (of its s), or from the top where it has none.
    Napi::Value SearchMany(Napi::CallbackInfo const& info) {
        Napi::Env env = info.Env();
        if (info.Length() < 4 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber())
            throw Napi::TypeError::New(env, "searchMany(queries: Float32Array, count: number, k: number, threads: number)");
        Napi::Float32Array queries = info[0].As<Napi::Float32Array>();
        std::size_t const count = info[1].As<Napi::Number>().Uint32Value();
        if (queries.ElementLength() != count * dimensions_)
            throw Napi::RangeError::New(env, "searchMany: queries must hold count × dimensions values");
        std::uint32_t const* seeds = nullptr;
        std::uint32_t const* seed_counts = nullptr;
        std::size_t seeds_each = 0;
        if (info.Length() > 4 && !info[4].IsUndefined()) {
            auto const is_u32 = [](Napi::Value value) { return value.IsTypedArray() && value.As<Napi::TypedArray>().TypedArrayType() == napi_uint32_array; };
            if (!is_u32(info[4]) || info.Length() < 6 || !is_u32(info[5]))
                throw Napi::TypeError::New(env, "searchMany: seeds and seedCounts must be Uint32Arrays");
            Napi::Uint32Array seed_array = info[4].As<Napi::Uint32Array>(), count_array = info[5].As<Napi::Uint32Array>();
            seeds_each = count ? seed_array.ElementLength() / count : 0;
            if (count_array.ElementLength() != count || seed_array.ElementLength() != count * seeds_each)
                throw Napi::RangeError::New(env, "searchMany: seeds must hold count × s slots and seedCounts count numbers");
            for (std::size_t i = 0; i != count; ++i)
                if (count_array[i] > seeds_each) throw Napi::RangeError::New(env, "searchMany: a query's seed count exceeds its seeds");
            seeds = seed_array.Data();
            seed_counts = count_array.Data();
        }
        std::size_t const k = info[2].As<Napi::Number>().Uint32Value();
        std::size_t const wanted = std::min<std::size_t>(k, live_());
        Napi::Uint32Array keys = Napi::Uint32Array::New(env, count * k);
        Napi::Float32Array distances = Napi::Float32Array::New(env, count * k);
        Napi::Uint32Array counts = Napi::Uint32Array::New(env, count);
        std::size_t threads = info[3].As<Napi::Number>().Uint32Value();
        if (threads == 0) threads = threads_;
        threads = std::max<std::size_t>(1, std::min({threads, threads_, count}));
        if (wanted && count) {
            std::atomic<std::size_t> next{0};
            std::atomic<bool> failed{false};
            std::string failure;
            std::vector<std::uint64_t> sinks(threads, 0);
            float const* values = queries.Data();
            std::uint32_t* key_out = keys.Data();
            float* distance_out = distances.Data();
            std::uint32_t* count_out = counts.Data();
            auto work = [&](std::size_t thread) {
                std::vector<byte_t> code(rows_->stride);
                for (std::size_t i; (i = next.fetch_add(1)) < count && !failed.load();) {
                    try {
                        count_out[i] = static_cast<std::uint32_t>(
                            seeds && seed_counts[i] > 0
                                ? walk_seeded_(values + i * dimensions_, seeds + i * seeds_each, seed_counts[i], wanted, code.data(), key_out + i * k,
                                               distance_out + i * k, &sinks[thread], nullptr, nullptr, nullptr, default_walk_beam)
                                : walk_(values + i * dimensions_, wanted, thread, code.data(), key_out + i * k, distance_out + i * k, &sinks[thread]));
                    } catch (std::exception const& error) {
                        if (!failed.exchange(true)) failure = error.what();
                    }
                }
            };
            executor_stl_t{threads}.parallel(work);
            for (auto sink : sinks) loaded_ += sink;
            if (failed) throw Napi::Error::New(env, "searchMany: " + failure);
        }
        Napi::Object result = Napi::Object::New(env);
        result.Set("keys", keys);
        result.Set("distances", distances);
        result.Set("counts", counts);
        return result;
    }

    // save(path, writeBehindBytes?): USearch's index_dense layout (the vectors matrix, the head, the graph), written back to
    // the disk as it goes, a range of writeBehindBytes (16 MB) at a time.
    void Save(Napi::CallbackInfo const& info) {
        Napi::Env env = info.Env();
        if (info.Length() < 1 || !info[0].IsString() || (info.Length() > 1 && !info[1].IsUndefined() && !info[1].IsNumber()))
            throw Napi::TypeError::New(env, "save(path: string, writeBehindBytes?: number)");
        std::string path = info[0].As<Napi::String>().Utf8Value();
        file_t file;
        file.handle = std::fopen(path.c_str(), "wb");
        if (!file.handle) throw Napi::Error::New(env, "save: cannot open " + path + ": " + std::strerror(errno));
        std::setvbuf(file.handle, nullptr, _IOFBF, 1 << 20);
        // Written back as it goes, 16 MB at a time, the range before the last waited for: the caller's fsync after then finds
        // little left to write. A 1M graph's 212 MB written whole and then fsynced by the checkpoint thread (0.23–0.46 s) stalled
        // the serving thread in 6 of 51 runs of bench/search's save rows (2026-12-03, ext4): a p99 of 38–151 ms, the late searches
        // finishing as the fsync did. Written behind (the fsync 0.16–0.19 s): 25 runs, p99 1.6–9.5 ms.
        // (A test asks for smaller ranges with the second argument, to write a small graph behind too.)
        double const asked = info.Length() > 1 && info[1].IsNumber() ? info[1].As<Napi::Number>().DoubleValue() : 0;
        std::uint64_t const write_behind_bytes = asked >= 1 && asked < 1e15 ? static_cast<std::uint64_t>(asked) : std::uint64_t{16} << 20;
        // Bytes handed to fwrite, whose write-back was started, and waited for; `behind` false where the system refuses.
        std::uint64_t handed = 0, started = 0, waited = 0;
        bool behind = true;
        // False where the buffered bytes could not be written.
        auto write_behind = [&]() -> bool {
            if (std::fflush(file.handle) != 0) return false;
#if defined(__linux__)
            if (behind) {
                int const fd = ::fileno(file.handle);
                // The range started last time done (its pages on their way to the disk or there), this one started: at most
                // two ranges of dirty pages at a time.
                if (started > waited)
                    ::sync_file_range(fd, static_cast<off_t>(waited), static_cast<off_t>(started - waited),
                                      SYNC_FILE_RANGE_WAIT_BEFORE | SYNC_FILE_RANGE_WRITE | SYNC_FILE_RANGE_WAIT_AFTER);
                waited = started;
                if (::sync_file_range(fd, static_cast<off_t>(started), static_cast<off_t>(handed - started), SYNC_FILE_RANGE_WRITE) != 0)
                    behind = false;
            }
#endif
            started = handed;
            return true;
        };
        auto output = [&](void const* data, std::size_t length) {
            if (std::fwrite(data, 1, length, file.handle) != length) return false;
            handed += length;
            return handed - started < write_behind_bytes || write_behind();
        };
        std::size_t const rows = graph_->size();
        std::uint32_t matrix[2] = {static_cast<std::uint32_t>(rows), static_cast<std::uint32_t>(rows_->bytes)};
        bool written = output(matrix, sizeof(matrix));
        codes_view_t const codes = codes_();
        for (std::size_t slot = 0; written && slot != rows; ++slot) written = output(codes.row(slot), rows_->bytes);

        byte_t buffer[64];
        std::memset(buffer, 0, sizeof(buffer));
        {
            index_dense_head_t head{buffer};
            std::memcpy(buffer, "usearch", 7);
            head.version_major = static_cast<std::uint16_t>(USEARCH_VERSION_MAJOR);
            head.version_minor = static_cast<std::uint16_t>(USEARCH_VERSION_MINOR);
            head.version_patch = static_cast<std::uint16_t>(USEARCH_VERSION_PATCH);
            head.kind_metric = metric_kind_t::hamming_k;
            head.kind_scalar = scalar_kind_t::b1x8_k;
            head.kind_key = scalar_kind<key_t_>();
            head.kind_compressed_slot = scalar_kind<slot_t_>();
            head.count_present = live_();
            head.count_deleted = free_slots_.size();
            head.dimensions = dimensions_;
            head.multi = false;
        }
        written = written && output(buffer, sizeof(buffer));
        if (written) {
            auto result = graph_->save_to_stream(output);
            written = static_cast<bool>(result);
        }
        written = written && std::fflush(file.handle) == 0;
        if (!written) throw Napi::Error::New(env, "save: cannot write " + path + ": " + std::strerror(errno));
    }

    // load(path): a file saved by save() or by USearch's dense index (b1x8 codes, Hamming, single keys).
    void Load(Napi::CallbackInfo const& info) {
        Napi::Env env = info.Env();
        if (info.Length() < 1 || !info[0].IsString()) throw Napi::TypeError::New(env, "load(path: string)");
        std::string path = info[0].As<Napi::String>().Utf8Value();
        file_t file;
        file.handle = std::fopen(path.c_str(), "rb");
        if (!file.handle) throw Napi::Error::New(env, "load: cannot open " + path + ": " + std::strerror(errno));
        std::setvbuf(file.handle, nullptr, _IOFBF, 1 << 20);
        auto input = [&](void* data, std::size_t length) { return std::fread(data, 1, length, file.handle) == length; };
        auto fail = [&](std::string const& why) {
            reset_();
            return Napi::Error::New(env, "load: " + path + ": " + why);
        };
        reset_();
        std::uint32_t matrix[2];
        if (!input(matrix, sizeof(matrix))) throw fail("too short for a graph");
        std::size_t const rows = matrix[0];
        if (matrix[1] != rows_->bytes)
            throw fail("its codes have " + std::to_string(matrix[1]) + " bytes, this graph's " + std::to_string(rows_->bytes));
        if (!rows_->reserve(std::max<std::size_t>(rows, 1), 0)) throw fail("out of memory");
        for (std::size_t slot = 0; slot != rows; ++slot) {
            byte_t* row = rows_->row(slot);
            std::memset(row + rows_->bytes, 0, rows_->stride - rows_->bytes);
            if (!input(row, rows_->bytes)) throw fail("too short for its codes");
        }
        byte_t buffer[64];
        if (!input(buffer, sizeof(buffer))) throw fail("too short for its head");
        index_dense_head_t head{buffer};
        if (std::memcmp(buffer, "usearch", 7) != 0) throw fail("not a USearch index");
        if (head.version_major != USEARCH_VERSION_MAJOR) throw fail("written by another major version of USearch");
        if (head.kind_metric != metric_kind_t::hamming_k || head.kind_scalar != scalar_kind_t::b1x8_k)
            throw fail("not a Hamming index over b1x8 codes");
        if (head.kind_key != scalar_kind<key_t_>() || head.kind_compressed_slot != scalar_kind<slot_t_>()) throw fail("other key or slot types");
        if (head.multi) throw fail("a multi-key index");
        if (head.dimensions != dimensions_)
            throw fail("it has " + std::to_string(std::uint64_t(head.dimensions)) + " dimensions, this graph " + std::to_string(dimensions_));
        auto loaded = graph_->load_from_stream(input);
        if (!loaded) throw fail(loaded.error.release());
        if (graph_->size() != rows) throw fail("its graph and its codes differ in size");
        // The file's connectivity holds for this graph (a cleared graph takes the configured one).
        if (!graph_->try_reserve(index_limits_t(std::max(rows, std::size_t{1}), threads_))) throw fail("out of memory");
        removed_.assign((std::max(rows, std::size_t{1}) + 63) / 64, 0);
        key_t_ highest = 0;
        for (std::size_t slot = 0; slot != rows; ++slot) {
            key_t_ key = graph_->at(static_cast<slot_t_>(slot)).key;
            if (key == free_key) continue;
            if (key >= no_slot) throw fail("a key above 2^32 - 2");
            highest = std::max(highest, key);
        }
        slot_of_key_.assign(rows ? highest + 1 : 0, no_slot);
        for (std::size_t slot = 0; slot != rows; ++slot) {
            key_t_ key = graph_->at(static_cast<slot_t_>(slot)).key;
            if (key == free_key) {
                free_slots_.push_back(static_cast<slot_t_>(slot));
                removed_[slot >> 6] |= std::uint64_t{1} << (slot & 63);
            } else if (slot_of_key_[key] != no_slot)
                throw fail("key " + std::to_string(key) + " twice");
            else
                slot_of_key_[key] = static_cast<slot_t_>(slot);
        }
    }

    void Clear(Napi::CallbackInfo const&) { reset_(); }
};

// Every half float's value (IEEE 754 binary16), as the service's HALF_TO_FLOAT table holds them.
struct half_table_t {
    float values[65536];
    half_table_t() noexcept {
        for (std::uint32_t h = 0; h != 65536; ++h) {
            int exponent = (h >> 10) & 31, mantissa = h & 1023;
            double magnitude = exponent == 0    ? std::ldexp(mantissa, -24)
                               : exponent == 31 ? (mantissa ? std::nan("") : INFINITY)
                                                : std::ldexp(mantissa + 1024, exponent - 25);
            values[h] = static_cast<float>(h >> 15 ? -magnitude : magnitude);
        }
    }
};

// An io_uring of the calling thread for batches of positioned reads: one system call submits a
// batch and waits for it, where pread takes one each. Reads from the page cache complete inside
// the submitting call (on this VM 40 reads of 2 KB took 66–72 µs against 113–131 with pread), and
// reads that miss it go to the disk side by side instead of one after another (354 µs against
// 2,183 for 40 cold ones). Where io_uring is refused (seccomp profiles, old kernels) or fails, the
// thread reads with pread from then on.
class read_ring_t {
    int fd_ = -1;
    unsigned *sq_head_ = nullptr, *sq_tail_ = nullptr, *sq_mask_ = nullptr, *sq_array_ = nullptr;
    unsigned *cq_head_ = nullptr, *cq_tail_ = nullptr, *cq_mask_ = nullptr;
    io_uring_sqe* sqes_ = nullptr;
    io_uring_cqe* cqes_ = nullptr;
    void* sq_ring_ = nullptr;
    void* cq_ring_ = nullptr;
    std::size_t sq_bytes_ = 0, cq_bytes_ = 0, sqe_bytes_ = 0;
    bool tried_ = false;

    void close_() noexcept {
        if (sqes_) ::munmap(sqes_, sqe_bytes_);
        if (cq_ring_ && cq_ring_ != sq_ring_) ::munmap(cq_ring_, cq_bytes_);
        if (sq_ring_) ::munmap(sq_ring_, sq_bytes_);
        if (fd_ >= 0) ::close(fd_);
        fd_ = -1;
        sqes_ = nullptr;
        sq_ring_ = cq_ring_ = nullptr;
    }

    bool open_() noexcept {
        io_uring_params params;
        std::memset(&params, 0, sizeof(params));
        int fd = static_cast<int>(::syscall(__NR_io_uring_setup, batch, &params));
        if (fd < 0) return false;
        fd_ = fd;
        entries = params.sq_entries;
        sq_bytes_ = params.sq_off.array + params.sq_entries * sizeof(unsigned);
        cq_bytes_ = params.cq_off.cqes + params.cq_entries * sizeof(io_uring_cqe);
        bool single = params.features & IORING_FEAT_SINGLE_MMAP;
        if (single) sq_bytes_ = cq_bytes_ = std::max(sq_bytes_, cq_bytes_);
        sq_ring_ = ::mmap(nullptr, sq_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQ_RING);
        if (sq_ring_ == MAP_FAILED) return sq_ring_ = nullptr, close_(), false;
        cq_ring_ = single ? sq_ring_ : ::mmap(nullptr, cq_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_CQ_RING);
        if (cq_ring_ == MAP_FAILED) return cq_ring_ = nullptr, close_(), false;
        sqe_bytes_ = params.sq_entries * sizeof(io_uring_sqe);
        void* sqes = ::mmap(nullptr, sqe_bytes_, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, IORING_OFF_SQES);
        if (sqes == MAP_FAILED) return close_(), false;
        sqes_ = static_cast<io_uring_sqe*>(sqes);
        char* sq = static_cast<char*>(sq_ring_);
        char* cq = static_cast<char*>(cq_ring_);
        sq_head_ = reinterpret_cast<unsigned*>(sq + params.sq_off.head);
        sq_tail_ = reinterpret_cast<unsigned*>(sq + params.sq_off.tail);
        sq_mask_ = reinterpret_cast<unsigned*>(sq + params.sq_off.ring_mask);
        sq_array_ = reinterpret_cast<unsigned*>(sq + params.sq_off.array);
        cq_head_ = reinterpret_cast<unsigned*>(cq + params.cq_off.head);
        cq_tail_ = reinterpret_cast<unsigned*>(cq + params.cq_off.tail);
        cq_mask_ = reinterpret_cast<unsigned*>(cq + params.cq_off.ring_mask);
        cqes_ = reinterpret_cast<io_uring_cqe*>(cq + params.cq_off.cqes);
        return true;
    }

  public:
    static constexpr unsigned batch = 64;
    unsigned entries = 0;

    ~read_ring_t() { close_(); }

    bool ready() noexcept {
        if (!tried_) tried_ = true, open_();
        return fd_ >= 0;
    }

    // Reads `count` (≤ entries) ranges of `length` bytes; results[i] is the read's byte count or
    // −errno. False when the ring failed (it is closed then, and the caller reads another way).
    bool read(int file, std::size_t count, byte_t* const* buffers, off_t const* offsets, unsigned length, int* results) noexcept {
        unsigned tail = __atomic_load_n(sq_tail_, __ATOMIC_RELAXED);
        for (std::size_t i = 0; i != count; ++i) {
            unsigned index = (tail + static_cast<unsigned>(i)) & *sq_mask_;
            io_uring_sqe* sqe = &sqes_[index];
            std::memset(sqe, 0, sizeof(*sqe));
            sqe->opcode = IORING_OP_READ;
            sqe->fd = file;
            sqe->addr = reinterpret_cast<std::uint64_t>(buffers[i]);
            sqe->len = length;
            sqe->off = static_cast<std::uint64_t>(offsets[i]);
            sqe->user_data = i;
            sq_array_[index] = index;
        }
        __atomic_store_n(sq_tail_, tail + static_cast<unsigned>(count), __ATOMIC_RELEASE);
        std::size_t submitted = 0, seen = 0;
        unsigned head = __atomic_load_n(cq_head_, __ATOMIC_RELAXED);
        while (seen < count) {
            unsigned wanted = static_cast<unsigned>(count - seen);
            long entered = ::syscall(__NR_io_uring_enter, fd_, static_cast<unsigned>(count - submitted), wanted, IORING_ENTER_GETEVENTS, nullptr, 0);
            if (entered < 0) {
                if (errno == EINTR) continue;
                close_();
                return false;
            }
            submitted += static_cast<std::size_t>(entered);
            unsigned ready_tail = __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE);
            for (; head != ready_tail && seen < count; ++head, ++seen) {
                io_uring_cqe const& cqe = cqes_[head & *cq_mask_];
                if (cqe.user_data < count) results[cqe.user_data] = cqe.res;
            }
            __atomic_store_n(cq_head_, head, __ATOMIC_RELEASE);
            if (submitted > count) {
                close_();
                return false;
            }
        }
        return true;
    }
};

// The dot product of a query with one stored vector (f32, or f16 through `table`) as the service's
// VectorFile sums it (laneDot in vector-file.ts): in doubles, component d into partial sum d mod 8,
// the eight combined as ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7)). A float times a float is
// exact in a double, so contraction or not, every step rounds once, in the same order as there. One
// running sum in dimension order waited ~4 cycles an add (~0.6 µs for 512 components); eight chains
// keep the adder busy.
template <bool Half>
inline double lane_dot(float const* q, byte_t const* row, std::size_t dimensions, float const* table) noexcept {
    double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    auto value = [&](std::size_t d) -> double {
        if constexpr (Half) {
            std::uint16_t h;
            std::memcpy(&h, row + d * 2, 2);
            return static_cast<double>(table[h]);
        } else {
            float v;
            std::memcpy(&v, row + d * 4, 4);
            return static_cast<double>(v);
        }
    };
    std::size_t d = 0;
    for (; d + 8 <= dimensions; d += 8)
        for (std::size_t j = 0; j != 8; ++j) s[j] += static_cast<double>(q[d + j]) * value(d + j);
    for (std::size_t j = 0; d + j < dimensions; ++j) s[j] += static_cast<double>(q[d + j]) * value(d + j);
    return ((s[0] + s[1]) + (s[2] + s[3])) + ((s[4] + s[5]) + (s[6] + s[7]));
}

// Reads `length` bytes at `offset` with pread; false at the file's end, errno set on an error.
inline bool read_fully(int fd, byte_t* buffer, std::size_t length, off_t offset, bool& failed) noexcept {
    std::size_t done = 0;
    while (done < length) {
        ssize_t read = ::pread(fd, buffer + done, length - done, offset + static_cast<off_t>(done));
        if (read < 0 && errno == EINTR) continue;
        if (read <= 0) {
            failed = read < 0;
            return false;
        }
        done += static_cast<std::size_t>(read);
    }
    return true;
}

// dotMany(fd, slots: Uint32Array, storage: 'f32' | 'f16', query: Float32Array, out: Float64Array[, reads: 'pread']):
// the dot products of `query` with the vectors in `slots` of a vector file (fixed slots of
// query.length floats or halves), into out[i], summed in double precision as the JavaScript path
// sums them (lane_dot). The vectors are read in batches through the thread's io_uring
// (read_ring_t), else (or when `reads` asks for it) with pread. Throws when a slot lies past the file's end.
Napi::Value DotMany(Napi::CallbackInfo const& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 5 || !info[0].IsNumber() || !info[1].IsTypedArray() || !info[2].IsString() || !info[3].IsTypedArray() || !info[4].IsTypedArray())
        throw Napi::TypeError::New(env, "dotMany(fd, slots: Uint32Array, storage: 'f32' | 'f16', query: Float32Array, out: Float64Array)");
    int fd = info[0].As<Napi::Number>().Int32Value();
    Napi::Uint32Array slots = info[1].As<Napi::Uint32Array>();
    bool half = info[2].As<Napi::String>().Utf8Value() == "f16";
    Napi::Float32Array query = info[3].As<Napi::Float32Array>();
    Napi::Float64Array out = info[4].As<Napi::Float64Array>();
    bool const pread_only = info.Length() > 5 && info[5].IsString() && info[5].As<Napi::String>().Utf8Value() == "pread";
    std::size_t const count = slots.ElementLength(), dimensions = query.ElementLength();
    if (out.ElementLength() < count) throw Napi::RangeError::New(env, "dotMany: out is shorter than slots");
    std::size_t const bytes = dimensions * (half ? 2 : 4);
    float const* q = query.Data();
    static half_table_t const halves; // built once, on first use
    thread_local read_ring_t ring;
    thread_local std::vector<byte_t> rows;
    if (rows.size() < read_ring_t::batch * bytes) rows.resize(read_ring_t::batch * bytes);

    for (std::size_t first = 0; first < count; first += read_ring_t::batch) {
        std::size_t const n = std::min<std::size_t>(read_ring_t::batch, count - first);
        byte_t* buffers[read_ring_t::batch];
        off_t offsets[read_ring_t::batch];
        int results[read_ring_t::batch];
        for (std::size_t i = 0; i != n; ++i) {
            buffers[i] = rows.data() + i * bytes;
            offsets[i] = static_cast<off_t>(slots[first + i]) * static_cast<off_t>(bytes);
            results[i] = -1;
        }
        bool const ringed = !pread_only && bytes <= 0x7fffffff && ring.ready() && n <= ring.entries && ring.read(fd, n, buffers, offsets, static_cast<unsigned>(bytes), results);
        for (std::size_t i = 0; i != n; ++i) {
            // A read the ring did not complete whole (short, failed, or no ring) is read again with pread.
            if (ringed && results[i] == static_cast<int>(bytes)) continue;
            bool failed = false;
            if (!read_fully(fd, buffers[i], bytes, offsets[i], failed)) {
                if (failed) throw Napi::Error::New(env, std::string("dotMany: ") + std::strerror(errno));
                throw Napi::Error::New(env, "vector slot " + std::to_string(slots[first + i]) + " is missing from the vector file");
            }
        }
        for (std::size_t i = 0; i != n; ++i) out[first + i] = half ? lane_dot<true>(q, buffers[i], dimensions, halves.values) : lane_dot<false>(q, buffers[i], dimensions, halves.values);
    }
    return env.Undefined();
}

// estimateDots(codes: Uint8Array, codesAt, stride, planes: Uint8Array, planeBytes, lows: Float32Array,
// sums: Float32Array (planeBytes × 256), total, highCount, lowCount, slots: Uint32Array, out: Float64Array):
// CodeStore.estimateDots's loop (see there: the two-bit estimate of each slot's dot product with the
// query whose byte sums `sums` holds), the same sums in the same order in double precision, so the
// same results to the last bit (built without floating-point contraction). Every slot's code, plane
// and level are read first in a short loop, so that their misses overlap.
// byteSums(query: Float32Array, dimension, sums: Float32Array) → the sum of the query's first `dimension`
// components (in order, in doubles), after writing CodeStore's byte sums: for byte position p and each
// value v, the sum of the components whose bits v sets (bit b: component 8p + 7 − b), built up as the
// JavaScript does (v with bit b added: the float of v's sum plus the component, in doubles), so that
// the tables are the same to the last bit. The JavaScript loop took 55–95 µs a query at 512 dimensions.
Napi::Value ByteSums(Napi::CallbackInfo const& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 3 || !info[0].IsTypedArray() || !info[1].IsNumber() || !info[2].IsTypedArray() ||
        info[0].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array || info[2].As<Napi::TypedArray>().TypedArrayType() != napi_float32_array)
        throw Napi::TypeError::New(env, "byteSums(query: Float32Array, dimension, sums: Float32Array)");
    Napi::Float32Array query = info[0].As<Napi::Float32Array>();
    Napi::Float32Array sums = info[2].As<Napi::Float32Array>();
    double const asked = info[1].As<Napi::Number>().DoubleValue();
    if (!(asked >= 1) || asked != std::floor(asked) || asked > static_cast<double>(query.ElementLength()))
        throw Napi::RangeError::New(env, "byteSums: the dimension is not a count of the query's components");
    std::size_t const dimension = static_cast<std::size_t>(asked);
    std::size_t const positions = (dimension + 7) / 8;
    if (sums.ElementLength() < positions * 256) throw Napi::RangeError::New(env, "byteSums: sums too short");
    float const* q = query.Data();
    float* out = sums.Data();
    double total = 0;
    for (std::size_t i = 0; i != dimension; ++i) total += static_cast<double>(q[i]);
    for (std::size_t position = 0; position != positions; ++position) {
        float* base = out + position * 256;
        base[0] = 0;
        for (std::size_t bit = 0, half = 1; bit != 8; ++bit, half <<= 1) {
            std::size_t const component = position * 8 + 7 - bit;
            double const weight = component < dimension ? static_cast<double>(q[component]) : 0.0;
            for (std::size_t value = 0; value != half; ++value) base[half + value] = static_cast<float>(static_cast<double>(base[value]) + weight);
        }
    }
    return Napi::Number::New(env, total);
}

// walksReadSums() → whether a walk by the estimate reads the byte sums of its estimate argument: without AVX-512 (or with the scalar
// kernel asked for) its distances look the code bytes up there; with it they sum the query's components under the codes' bits
// (estimate_t::weights), and CodeStore.estimateQuery need not write the 64 kB table before each walk.
Napi::Value WalksReadSums(Napi::CallbackInfo const& info) {
#if defined(__x86_64__) && defined(__GNUC__)
    return Napi::Boolean::New(info.Env(), !scan_avx512);
#else
    return Napi::Boolean::New(info.Env(), true);
#endif
}

Napi::Value EstimateDots(Napi::CallbackInfo const& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 12 || !info[0].IsTypedArray() || !info[3].IsTypedArray() || !info[5].IsTypedArray() || !info[6].IsTypedArray() ||
        !info[10].IsTypedArray() || !info[11].IsTypedArray())
        throw Napi::TypeError::New(env, "estimateDots(codes, codesAt, stride, planes, planeBytes, lows, sums, total, highCount, lowCount, slots, out)");
    Napi::Uint8Array codes = info[0].As<Napi::Uint8Array>();
    std::size_t const codes_at = info[1].As<Napi::Number>().Int64Value(), stride = info[2].As<Napi::Number>().Int64Value();
    Napi::Uint8Array planes = info[3].As<Napi::Uint8Array>();
    std::size_t const plane_bytes = info[4].As<Napi::Number>().Int64Value();
    Napi::Float32Array lows = info[5].As<Napi::Float32Array>();
    Napi::Float32Array sums = info[6].As<Napi::Float32Array>();
    double const total = info[7].As<Napi::Number>().DoubleValue();
    double const high_count = info[8].As<Napi::Number>().DoubleValue();
    double const low_count = info[9].As<Napi::Number>().DoubleValue();
    Napi::Uint32Array slots = info[10].As<Napi::Uint32Array>();
    Napi::Float64Array out = info[11].As<Napi::Float64Array>();
    std::size_t const count = slots.ElementLength();
    if (out.ElementLength() < count || sums.ElementLength() < plane_bytes * 256 || stride < plane_bytes)
        throw Napi::RangeError::New(env, "estimateDots: arrays too short");
    for (std::size_t i = 0; i != count; ++i) {
        std::size_t slot = slots[i];
        if (codes_at + (slot + 1) * stride > codes.ByteLength() || (slot + 1) * plane_bytes > planes.ByteLength() || slot >= lows.ElementLength())
            throw Napi::RangeError::New(env, "estimateDots: slot " + std::to_string(slot) + " has no code");
    }
    std::uint8_t const* memory = codes.Data();
    std::uint8_t const* plane_data = planes.Data();
    float const* low_data = lows.Data();
    float const* table = sums.Data();
    std::uint64_t touched = 0;
    for (std::size_t i = 0; i != count; ++i) {
        std::size_t slot = slots[i];
        touched += memory[codes_at + slot * stride] + memory[codes_at + slot * stride + stride - 1] + plane_data[slot * plane_bytes] +
                   plane_data[slot * plane_bytes + plane_bytes - 1] + static_cast<std::uint64_t>(low_data[slot] != 0);
    }
    for (std::size_t i = 0; i != count; ++i) {
        std::size_t slot = slots[i];
        std::uint8_t const* sign_code = memory + codes_at + slot * stride;
        std::uint8_t const* plane = plane_data + slot * plane_bytes;
        // Four chains a sum, byte j of each four into chain j (a chain's add latency, not the lookups, bounded one chain a sum: 0.3 µs
        // a candidate at 512 dimensions), summed (0 + 1) + (2 + 3): CodeStore.estimateDots's JavaScript in the same order, to the last bit.
        double signs[4] = {0, 0, 0, 0}, both[4] = {0, 0, 0, 0}, magnitudes[4] = {0, 0, 0, 0};
        std::size_t position = 0;
        for (std::size_t base = 0; position + 4 <= plane_bytes; position += 4, base += 1024) {
            for (std::size_t j = 0; j != 4; ++j) {
                std::uint8_t const sign = sign_code[position + j], magnitude = plane[position + j];
                signs[j] += static_cast<double>(table[base + 256 * j + sign]);
                both[j] += static_cast<double>(table[base + 256 * j + (sign & magnitude)]);
                magnitudes[j] += static_cast<double>(table[base + 256 * j + magnitude]);
            }
        }
        for (std::size_t j = 0; position != plane_bytes; ++position, ++j) {
            std::uint8_t const sign = sign_code[position], magnitude = plane[position];
            signs[j] += static_cast<double>(table[256 * position + sign]);
            both[j] += static_cast<double>(table[256 * position + (sign & magnitude)]);
            magnitudes[j] += static_cast<double>(table[256 * position + magnitude]);
        }
        double const all = (signs[0] + signs[1]) + (signs[2] + signs[3]);
        double const high_signs = (both[0] + both[1]) + (both[2] + both[3]);
        double const high_all = (magnitudes[0] + magnitudes[1]) + (magnitudes[2] + magnitudes[3]);
        double const low_level = static_cast<double>(low_data[slot]);
        double const high_level = std::sqrt(std::max(0.0, 1 - low_count * low_level * low_level) / high_count);
        out[i] = low_level * (2 * all - total) + (high_level - low_level) * (2 * high_signs - high_all);
    }
    return Napi::Number::New(env, static_cast<double>(touched & 0xffff));
}

// nearestCodes(memory: ArrayBuffer, codesAt, words, count, liveAt, queryAt, k) → { positions: Uint32Array,
// distances: Uint16Array }: of the `count` codes of `words` 64-bit words side by side from byte `codesAt`
// (entry i live where the byte at liveAt + i is not 0), every live one whose Hamming distance to the code
// at `queryAt` is within the k-th smallest, ties at that distance included, by distance then position.
// What the WebAssembly kernel's scanRange and the selection after it answer (PostingCopy), in one pass
// that writes no distances: a sample of the codes sets a cut that keeps about 2k + 64 of them; the pass
// keeps the entries within it, and only when fewer than k pass (a sample far off) is there a second.
// The pass reads the codes in order, at the speed of memory for a copy that fits no cache.
template <std::size_t words_ak>
inline unsigned hamming_words(std::uint64_t const* a, std::uint64_t const* b, std::size_t words) noexcept {
    unsigned d = 0;
    if constexpr (words_ak != 0) {
        for (std::size_t w = 0; w != words_ak; ++w) d += static_cast<unsigned>(__builtin_popcountll(a[w] ^ b[w]));
    } else {
        for (std::size_t w = 0; w != words; ++w) d += static_cast<unsigned>(__builtin_popcountll(a[w] ^ b[w]));
    }
    return d;
}

// The Hamming distances of `count` codes of `words` words side by side to `query`, into `out`: one
// pass in order, no branch (a scan that tested each code against its cut as it went took half as long
// again on bench/search's copies).
template <std::size_t words_ak>
void code_distances_scalar(byte_t const* codes, std::size_t words, std::size_t count, std::uint64_t const* query, std::uint16_t* out) noexcept {
    std::uint64_t row[64];
    // A constant size where the words are known, so that the copy is the loads themselves rather than a call.
    std::size_t const bytes = (words_ak != 0 ? words_ak : words) * 8;
    for (std::size_t i = 0; i != count; ++i) {
        if constexpr (words_ak != 0) std::memcpy(row, codes + i * bytes, words_ak * 8);
        else std::memcpy(row, codes + i * bytes, bytes);
        out[i] = static_cast<std::uint16_t>(hamming_words<words_ak>(row, query, words));
    }
}

#if defined(__x86_64__) && defined(__GNUC__)
// AVX-512's popcount of 64-bit lanes (VPOPCNTQ: Intel since Ice Lake, AMD since Zen 4), chosen at run
// time: eight codes a step. bench/search's 1M index, a 10 % filter's copy (100k codes of 3 words): the
// distances in 85–90 µs against 145–200 for the scalar loop; 64-byte codes (8 words) 76–80 against
// 132–162 (one core, codes in the caches; a copy that is not reads at the speed of memory either way).
// GCC 12's AVX-512 headers start their results from _mm512_undefined_epi32, which -Wmaybe-uninitialized takes for a bug.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"

// Lane j of the result: the sum of the lanes of v[j].
LOOKBOOK_AVX512 inline __m512i lane_sums(__m512i const* v) noexcept {
    // Pairs within each 128-bit block, then blocks of two vectors, then of four.
    __m512i const a0 = _mm512_add_epi64(_mm512_unpacklo_epi64(v[0], v[1]), _mm512_unpackhi_epi64(v[0], v[1]));
    __m512i const a1 = _mm512_add_epi64(_mm512_unpacklo_epi64(v[2], v[3]), _mm512_unpackhi_epi64(v[2], v[3]));
    __m512i const a2 = _mm512_add_epi64(_mm512_unpacklo_epi64(v[4], v[5]), _mm512_unpackhi_epi64(v[4], v[5]));
    __m512i const a3 = _mm512_add_epi64(_mm512_unpacklo_epi64(v[6], v[7]), _mm512_unpackhi_epi64(v[6], v[7]));
    __m512i const b0 = _mm512_add_epi64(_mm512_shuffle_i64x2(a0, a1, 0x88), _mm512_shuffle_i64x2(a0, a1, 0xDD));
    __m512i const b1 = _mm512_add_epi64(_mm512_shuffle_i64x2(a2, a3, 0x88), _mm512_shuffle_i64x2(a2, a3, 0xDD));
    return _mm512_add_epi64(_mm512_shuffle_i64x2(b0, b1, 0x88), _mm512_shuffle_i64x2(b0, b1, 0xDD));
}

// Any number of words up to 64: each code's words in up to eight masked loads of eight, the eight
// codes' popcounts summed across their lanes together.
LOOKBOOK_AVX512 void code_distances_avx512(byte_t const* codes, std::size_t words, std::size_t count, std::uint64_t const* query,
                                           std::uint16_t* out) noexcept {
    std::size_t const chunks = (words + 7) / 8;
    __m512i q[8];
    __mmask8 masks[8];
    for (std::size_t c = 0; c != chunks; ++c) {
        std::size_t const n = std::min<std::size_t>(8, words - 8 * c);
        masks[c] = static_cast<__mmask8>((1u << n) - 1);
        q[c] = _mm512_maskz_loadu_epi64(masks[c], query + 8 * c);
    }
    std::size_t const bytes = words * 8;
    std::size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        __m512i sums[8];
        for (std::size_t j = 0; j != 8; ++j) {
            byte_t const* code = codes + (i + j) * bytes;
            __m512i sum = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_maskz_loadu_epi64(masks[0], code), q[0]));
            for (std::size_t c = 1; c < chunks; ++c)
                sum = _mm512_add_epi64(sum, _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_maskz_loadu_epi64(masks[c], code + 64 * c), q[c])));
            sums[j] = sum;
        }
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm512_cvtepi64_epi16(lane_sums(sums)));
    }
    if (i < count) code_distances_scalar<0>(codes + i * bytes, words, count - i, query, out + i);
}

// Three words (a prefix copy's 192 bits of 512): eight codes are three full loads, whose lanes' popcounts
// are gathered into each code's three terms by permutes (the masked loads above: 126–133 µs for the
// copy of 85–90).
LOOKBOOK_AVX512 void code_distances_avx512_3(byte_t const* codes, std::size_t count, std::uint64_t const* query, std::uint16_t* out) noexcept {
    alignas(64) std::uint64_t pattern[24];
    for (std::size_t w = 0; w != 24; ++w) pattern[w] = query[w % 3];
    __m512i const qa = _mm512_load_si512(pattern), qb = _mm512_load_si512(pattern + 8), qc = _mm512_load_si512(pattern + 16);
    // Term t of code j is word 3j + t of the 24: lane 3j + t of [a | b] below 16, else lane 3j + t - 16 of c.
    __m512i from_ab[3], from_c[3];
    __mmask8 in_c[3];
    for (std::size_t t = 0; t != 3; ++t) {
        alignas(64) std::int64_t ab[8], c[8];
        unsigned mask = 0;
        for (std::size_t j = 0; j != 8; ++j) {
            std::size_t const w = 3 * j + t;
            ab[j] = w < 16 ? static_cast<std::int64_t>(w) : 0;
            c[j] = w < 16 ? 0 : static_cast<std::int64_t>(w - 16);
            if (w >= 16) mask |= 1u << j;
        }
        from_ab[t] = _mm512_load_si512(ab);
        from_c[t] = _mm512_load_si512(c);
        in_c[t] = static_cast<__mmask8>(mask);
    }
    std::size_t i = 0;
    for (; i + 8 <= count; i += 8) {
        byte_t const* block = codes + i * 24;
        __m512i const a = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(block), qa));
        __m512i const b = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(block + 64), qb));
        __m512i const c = _mm512_popcnt_epi64(_mm512_xor_si512(_mm512_loadu_si512(block + 128), qc));
        __m512i sum = _mm512_setzero_si512();
        for (std::size_t t = 0; t != 3; ++t)
            sum = _mm512_add_epi64(sum, _mm512_mask_permutexvar_epi64(_mm512_permutex2var_epi64(a, from_ab[t], b), in_c[t], from_c[t], c));
        _mm_storeu_si128(reinterpret_cast<__m128i*>(out + i), _mm512_cvtepi64_epi16(sum));
    }
    if (i < count) code_distances_scalar<3>(codes + i * 24, 3, count - i, query, out + i);
}

// keep_within_any's choice for a block, 32 distances a compare: the entries kept, set bit by set bit (a
// test of each distance in turn, its branch taken for a few per cent of them at random, took the scan of
// a 10 % filter's copy from 85 to 155 µs, this 113).
LOOKBOOK_AVX512 void keep_block_avx512(std::uint16_t const* found, std::uint8_t const* live, std::size_t from, std::size_t count, unsigned cut,
                                       std::vector<std::uint32_t>& positions, std::vector<std::uint16_t>& distances) {
    __m512i const cuts = _mm512_set1_epi16(static_cast<short>(cut));
    for (std::size_t i = 0; i < count; i += 32) {
        std::size_t const n = std::min<std::size_t>(32, count - i);
        __mmask32 const in = n == 32 ? ~__mmask32{0} : static_cast<__mmask32>((1u << n) - 1);
        __m256i const alive = _mm256_maskz_loadu_epi8(in, live + from + i);
        __mmask32 kept = _mm512_mask_cmple_epu16_mask(in, _mm512_maskz_loadu_epi16(in, found + i), cuts) & _mm256_test_epi8_mask(alive, alive);
        while (kept != 0) {
            unsigned const j = static_cast<unsigned>(__builtin_ctz(kept));
            kept &= kept - 1;
            positions.push_back(static_cast<std::uint32_t>(from + i + j));
            distances.push_back(found[i + j]);
        }
    }
}
#pragma GCC diagnostic pop
#endif

void code_distances(byte_t const* codes, std::size_t words, std::size_t count, std::uint64_t const* query, std::uint16_t* out) noexcept {
#if defined(__x86_64__) && defined(__GNUC__)
    if (scan_avx512) {
        if (words == 3) return code_distances_avx512_3(codes, count, query, out);
        return code_distances_avx512(codes, words, count, query, out);
    }
#endif
    switch (words) {
    case 2: return code_distances_scalar<2>(codes, words, count, query, out);
    case 3: return code_distances_scalar<3>(codes, words, count, query, out);
    case 4: return code_distances_scalar<4>(codes, words, count, query, out);
    case 6: return code_distances_scalar<6>(codes, words, count, query, out);
    case 8: return code_distances_scalar<8>(codes, words, count, query, out);
    default: return code_distances_scalar<0>(codes, words, count, query, out);
    }
}

// The live entries whose distance is at most `cut`, in order: the distances a block at a time, then the block's kept entries.
// Of `count` distances of entries from `from` on, the live ones of at most `cut`, in order, into positions and distances.
void keep_block(std::uint16_t const* found, std::uint8_t const* live, std::size_t from, std::size_t count, unsigned cut,
                std::vector<std::uint32_t>& positions, std::vector<std::uint16_t>& distances) {
#if defined(__x86_64__) && defined(__GNUC__)
    if (scan_avx512) return keep_block_avx512(found, live, from, count, cut, positions, distances);
#endif
    for (std::size_t i = 0; i != count; ++i) {
        if (found[i] <= cut && live[from + i]) {
            positions.push_back(static_cast<std::uint32_t>(from + i));
            distances.push_back(found[i]);
        }
    }
}

void keep_within_any(byte_t const* codes, std::size_t words, std::size_t count, std::uint8_t const* live, std::uint64_t const* query, unsigned cut,
                     std::vector<std::uint32_t>& positions, std::vector<std::uint16_t>& distances) {
    constexpr std::size_t block = 1024;
    std::uint16_t found[block];
    for (std::size_t from = 0; from < count; from += block) {
        std::size_t const n = std::min(block, count - from);
        code_distances(codes + from * words * 8, words, n, query, found);
        keep_block(found, live, from, n, cut, positions, distances);
    }
}

// { positions, distances }: of the entries kept (positions in ascending order, each with its distance of
// at most `bits`; no positions: entry i is position i), those within the k-th smallest distance (all
// of them where fewer than k), by distance then position (a counting sort: positions stay in order
// within a distance).
Napi::Object within_kth(Napi::Env env, std::uint32_t const* positions, std::vector<std::uint16_t> const& distances, std::size_t k, unsigned bits) {
    std::size_t kept = 0;
    unsigned last = 0;
    std::vector<std::uint32_t> starts;
    if (k > 0) {
        std::vector<std::uint32_t> histogram(bits + 2, 0);
        for (std::uint16_t d : distances) ++histogram[d];
        for (std::size_t seen = 0; last <= bits; ++last) {
            seen += histogram[last];
            if (seen >= k) break;
        }
        starts.assign(last + 2, 0);
        for (unsigned d = 0; d <= last; ++d) starts[d + 1] = starts[d] + histogram[d];
        kept = starts[last + 1];
    }
    Napi::Uint32Array out_positions = Napi::Uint32Array::New(env, kept);
    Napi::Uint16Array out_distances = Napi::Uint16Array::New(env, kept);
    std::uint32_t* position_data = out_positions.Data();
    std::uint16_t* distance_data = out_distances.Data();
    if (kept > 0) {
        for (std::size_t i = 0; i != distances.size(); ++i) {
            unsigned const d = distances[i];
            if (d > last) continue;
            std::uint32_t const at = starts[d]++;
            position_data[at] = positions ? positions[i] : static_cast<std::uint32_t>(i);
            distance_data[at] = static_cast<std::uint16_t>(d);
        }
    }
    Napi::Object result = Napi::Object::New(env);
    result.Set("positions", out_positions);
    result.Set("distances", out_distances);
    return result;
}

// A scan's numbers after its memory: six whole numbers ≥ 0 (below 2^32), or a TypeError or RangeError
// naming `usage`.
std::array<std::size_t, 6> scan_numbers(Napi::CallbackInfo const& info, char const* usage) {
    Napi::Env env = info.Env();
    if (info.Length() < 7 || !info[0].IsArrayBuffer()) throw Napi::TypeError::New(env, usage);
    std::array<std::size_t, 6> numbers{};
    for (std::size_t i = 0; i != 6; ++i) {
        if (!info[i + 1].IsNumber()) throw Napi::TypeError::New(env, std::string(usage) + ": all but the memory are numbers");
        double const value = info[i + 1].As<Napi::Number>().DoubleValue();
        if (!(value >= 0) || value >= 4294967296.0 || value != std::floor(value))
            throw Napi::RangeError::New(env, std::string(usage) + ": the codes, list, live bytes or query lie outside the memory");
        numbers[i] = static_cast<std::size_t>(value);
    }
    return numbers;
}

// scanKernel(name?: 'avx512' | 'scalar') → the kernel the code scans use ('avx512' or 'scalar'), after
// choosing `name` where given ('avx512' only where the CPU has it): tests compare the two.
Napi::Value ScanKernel(Napi::CallbackInfo const& info) {
    Napi::Env env = info.Env();
    if (info.Length() > 0 && !info[0].IsUndefined()) {
        if (!info[0].IsString()) throw Napi::TypeError::New(env, "scanKernel(name?: 'avx512' | 'scalar')");
        std::string const name = info[0].As<Napi::String>().Utf8Value();
        if (name != "avx512" && name != "scalar") throw Napi::TypeError::New(env, "scanKernel(name?: 'avx512' | 'scalar')");
#if defined(__x86_64__) && defined(__GNUC__)
        scan_avx512 = name == "avx512" && avx512_popcount;
#endif
    }
#if defined(__x86_64__) && defined(__GNUC__)
    return Napi::String::New(env, scan_avx512 ? "avx512" : "scalar");
#else
    return Napi::String::New(env, "scalar");
#endif
}

Napi::Value NearestCodes(Napi::CallbackInfo const& info) {
    Napi::Env env = info.Env();
    char const* usage = "nearestCodes(memory: ArrayBuffer, codesAt, words, count, liveAt, queryAt, k)";
    auto const [codes_at, words, count, live_at, query_at, k_asked] = scan_numbers(info, usage);
    Napi::ArrayBuffer memory = info[0].As<Napi::ArrayBuffer>();
    std::size_t const length = memory.ByteLength();
    if (words < 1 || words > 64 || codes_at + count * words * 8 > length || live_at + count > length || query_at + words * 8 > length)
        throw Napi::RangeError::New(env, std::string(usage) + ": the codes, list, live bytes or query lie outside the memory");
    std::size_t const k = std::min(k_asked, count);
    auto const* data = static_cast<byte_t const*>(memory.Data());
    byte_t const* codes = data + codes_at;
    auto const* live = reinterpret_cast<std::uint8_t const*>(data + live_at);
    std::uint64_t query[64];
    std::memcpy(query, data + query_at, words * 8);
    unsigned const bits = static_cast<unsigned>(words * 64);

    std::vector<std::uint32_t> positions;
    std::vector<std::uint16_t> distances;
    if (k > 0 && count <= 16384) {
        // A range of up to 16,384 codes (the walk guard's sample, 1 MB at 1M items): every distance, the exact cut from their
        // histogram, then the entries within it (keeping every entry for the selection after took 0.1–0.2 ms at 15,625 codes).
        std::vector<std::uint16_t> all(count);
        code_distances(codes, words, count, query, all.data());
        std::vector<std::uint32_t> histogram(bits + 1, 0);
        for (std::size_t i = 0; i != count; ++i)
            if (live[i]) ++histogram[all[i]];
        unsigned cut = 0;
        for (std::size_t seen = 0; cut < bits; ++cut) {
            seen += histogram[cut];
            if (seen >= k) break;
        }
        positions.reserve(std::min<std::size_t>(count, 2 * k + 64));
        distances.reserve(std::min<std::size_t>(count, 2 * k + 64));
        keep_block(all.data(), live, 0, count, cut, positions, distances);
        return within_kth(env, positions.data(), distances, k, bits);
    }
    if (k > 0) {
        // The cut: from the distances of 2,048 codes in 64 runs of 32 spread over the copy, the one that keeps about 2k + 64 of all
        // (2,048 codes each on its own cache line, a stride over the copy, cost a fifth of the scan in their misses).
        constexpr std::size_t runs = 64, run = 32;
        std::size_t const stride = count / runs;
        // Each run's distances by the scan's own kernel, where the run lies; the live entries' make the sample.
        std::vector<std::uint16_t> sample;
        sample.reserve(runs * run);
        std::uint16_t found[run];
        for (std::size_t r = 0; r != runs; ++r) {
            std::size_t const from = r * stride;
            code_distances(codes + from * words * 8, words, run, query, found);
            for (std::size_t j = 0; j != run; ++j)
                if (live[from + j]) sample.push_back(found[j]);
        }
        unsigned cut = bits;
        if (!sample.empty()) {
            double const share = (2.0 * static_cast<double>(k) + 64) / static_cast<double>(count);
            std::size_t const rank = std::min(sample.size() - 1, static_cast<std::size_t>(share * static_cast<double>(sample.size())));
            std::nth_element(sample.begin(), sample.begin() + rank, sample.end());
            cut = sample[rank];
        }
        positions.reserve(cut == bits ? count : 4 * k + 256);
        distances.reserve(cut == bits ? count : 4 * k + 256);
        keep_within_any(codes, words, count, live, query, cut, positions, distances);
        if (positions.size() < k && cut < bits) {
            positions.clear();
            distances.clear();
            keep_within_any(codes, words, count, live, query, bits, positions, distances);
        }
        return within_kth(env, positions.data(), distances, k, bits);
    }
    return within_kth(env, positions.data(), distances, 0, bits);
}

// The distances of the listed slots' codes into `out`: the codes of each block of 64 loaded in a short
// loop first, so that the misses of a scattered list overlap.
template <std::size_t words_ak>
void listed_distances(byte_t const* codes, std::size_t words, std::uint32_t const* list, std::size_t count, std::uint64_t const* query,
                      std::uint16_t* out) {
    std::size_t const bytes = (words_ak != 0 ? words_ak : words) * 8;
    std::uint64_t row[64];
    std::uint64_t sink = 0;
    constexpr std::size_t block = 64;
    for (std::size_t from = 0; from < count; from += block) {
        std::size_t const to = std::min(count, from + block);
        for (std::size_t i = from; i != to; ++i) sink += *reinterpret_cast<std::uint64_t const volatile*>(codes + list[i] * bytes);
        for (std::size_t i = from; i != to; ++i) {
            if constexpr (words_ak != 0) std::memcpy(row, codes + list[i] * bytes, words_ak * 8);
            else std::memcpy(row, codes + list[i] * bytes, bytes);
            unsigned const d = hamming_words<words_ak>(row, query, words);
            out[i] = static_cast<std::uint16_t>(d);
        }
    }
    (void)sink;
}

void listed_distances_any(byte_t const* codes, std::size_t words, std::uint32_t const* list, std::size_t count, std::uint64_t const* query,
                          std::uint16_t* out) {
    switch (words) {
    case 2: return listed_distances<2>(codes, words, list, count, query, out);
    case 4: return listed_distances<4>(codes, words, list, count, query, out);
    case 8: return listed_distances<8>(codes, words, list, count, query, out);
    case 12: return listed_distances<12>(codes, words, list, count, query, out);
    case 16: return listed_distances<16>(codes, words, list, count, query, out);
    default: return listed_distances<0>(codes, words, list, count, query, out);
    }
}

// nearestListed(memory: ArrayBuffer, codesAt, words, listAt, count, queryAt, k) → { positions, distances }:
// of the codes of the `count` slots listed as u32 from byte `listAt` (slot s's code of `words` 64-bit
// words at codesAt + s × words × 8), every one within the k-th smallest Hamming distance to the code at
// `queryAt`, ties included, by distance then list position: the WebAssembly kernel's scanList and the
// selection after it in one call. A posting list's codes lie scattered: the codes of each block of
// listed slots are loaded in a short loop before their distances are taken, so that their misses
// overlap (the kernel loads one a few entries ahead).
Napi::Value NearestListed(Napi::CallbackInfo const& info) {
    Napi::Env env = info.Env();
    char const* usage = "nearestListed(memory: ArrayBuffer, codesAt, words, listAt, count, queryAt, k)";
    auto const [codes_at, words, list_at, count, query_at, k_asked] = scan_numbers(info, usage);
    Napi::ArrayBuffer memory = info[0].As<Napi::ArrayBuffer>();
    std::size_t const length = memory.ByteLength();
    if (words < 1 || words > 64 || list_at % 4 != 0 || list_at + count * 4 > length || query_at + words * 8 > length || codes_at > length)
        throw Napi::RangeError::New(env, std::string(usage) + ": the codes, list, live bytes or query lie outside the memory");
    auto const* data = static_cast<byte_t const*>(memory.Data());
    auto const* list = reinterpret_cast<std::uint32_t const*>(data + list_at);
    std::size_t const bytes = words * 8, slots = (length - codes_at) / bytes;
    for (std::size_t i = 0; i != count; ++i)
        if (list[i] >= slots) throw Napi::RangeError::New(env, "nearestListed: slot " + std::to_string(list[i]) + " lies outside the memory");
    std::size_t const k = std::min(k_asked, count);
    unsigned const bits = static_cast<unsigned>(words * 64);
    // Every listed code's distance, entry i at position i: within_kth takes those within the k-th.
    std::vector<std::uint16_t> distances(k == 0 ? 0 : count);
    if (k > 0) {
        std::uint64_t query[64];
        std::memcpy(query, data + query_at, bytes);
        listed_distances_any(data + codes_at, words, list, count, query, distances.data());
    }
    return within_kth(env, nullptr, distances, k, bits);
}

// hugeBuffer(bytes) → ArrayBuffer: zeroed memory of map_huge's (in transparent huge pages from 16 MB
// up, where the system gives them on request), given back when the buffer is collected. For arrays a
// walk reads at random (the code store's magnitude planes and levels): in 4 KB pages most of a 1M
// walk's reads there miss the TLB.
Napi::Value HugeBuffer(Napi::CallbackInfo const& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "hugeBuffer(bytes: number)");
    double const asked = info[0].As<Napi::Number>().DoubleValue();
    if (!(asked >= 0) || asked > 1e15) throw Napi::RangeError::New(env, "hugeBuffer: bytes must be a size");
    std::size_t const bytes = std::max<std::size_t>(1, static_cast<std::size_t>(asked));
    std::size_t const mapped = round_to_huge(bytes);
    byte_t* data = map_huge(mapped);
    if (!data) throw Napi::Error::New(env, "hugeBuffer: out of memory");
    return Napi::ArrayBuffer::New(env, data, bytes, [](Napi::Env, void* memory, std::size_t* length) {
        ::munmap(memory, *length);
        delete length;
    }, new std::size_t(mapped));
}

// adviseHuge(buffer: ArrayBuffer) → bytes: asks for the whole huge pages inside memory that JavaScript
// allocated (the code store's codes, in the Hamming kernel's WebAssembly memory) to be backed by
// transparent huge pages, as map_huge asks for its own: madvise(MADV_HUGEPAGE) on them, so that pages
// touched from then on come as huge pages and the kernel's khugepaged gathers those touched before.
// The sign codes are what every walk reads at random, as it reads the nodes and planes map_huge holds
// (README, "Codes in huge pages": 2–3 % of a search's time at 1M). 0 where nothing was advised: below
// 16 MB (a touched huge page is resident whole), or where the system refused (no THP).
Napi::Value AdviseHuge(Napi::CallbackInfo const& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsArrayBuffer()) throw Napi::TypeError::New(env, "adviseHuge(buffer: ArrayBuffer)");
    Napi::ArrayBuffer buffer = info[0].As<Napi::ArrayBuffer>();
    auto const from = reinterpret_cast<std::uintptr_t>(buffer.Data());
    std::uintptr_t const start = (from + huge_page - 1) / huge_page * huge_page, end = (from + buffer.ByteLength()) / huge_page * huge_page;
    if (buffer.ByteLength() < huge_advice_from || end <= start) return Napi::Number::New(env, 0);
#ifdef MADV_HUGEPAGE
    if (::madvise(reinterpret_cast<void*>(start), end - start, MADV_HUGEPAGE) == 0) return Napi::Number::New(env, static_cast<double>(end - start));
#endif
    return Napi::Number::New(env, 0);
}

Napi::Object Init(Napi::Env env, Napi::Object exports) {
    exports.Set("hugeBuffer", Napi::Function::New(env, HugeBuffer, "hugeBuffer"));
    exports.Set("adviseHuge", Napi::Function::New(env, AdviseHuge, "adviseHuge"));
    exports.Set("Graph", Graph::Define(env));
    exports.Set("dotMany", Napi::Function::New(env, DotMany, "dotMany"));
    exports.Set("estimateDots", Napi::Function::New(env, EstimateDots, "estimateDots"));
    exports.Set("byteSums", Napi::Function::New(env, ByteSums, "byteSums"));
    exports.Set("walksReadSums", Napi::Function::New(env, WalksReadSums, "walksReadSums"));
    exports.Set("nearestCodes", Napi::Function::New(env, NearestCodes, "nearestCodes"));
    exports.Set("scanKernel", Napi::Function::New(env, ScanKernel, "scanKernel"));
    exports.Set("nearestListed", Napi::Function::New(env, NearestListed, "nearestListed"));
    return exports;
}

} // namespace

NODE_API_MODULE(lookbook_graph, Init)
