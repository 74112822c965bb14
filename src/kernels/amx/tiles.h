// The tile shape both AMX kernels use: all eight tiles 16 rows x 64 bytes (palette 1). Included only by
// files compiled with the AMX flags.
#pragma once

#include <immintrin.h>

#include <cstdint>

namespace hark::kernels::amx {

constexpr int kRows = 16;      // rows of every tile
constexpr int kRowBytes = 64;  // bytes per tile row

struct TileConfig {
  uint8_t palette = 1;
  uint8_t start_row = 0;
  uint8_t reserved[14] = {};
  uint16_t colsb[16] = {};
  uint8_t rows[16] = {};
};

// Loads the 8 x (16 x 64 bytes) configuration on the calling thread; _tile_release() undoes it.
inline void configure_tiles() {
  alignas(64) TileConfig c;
  for (int i = 0; i < 8; ++i) {
    c.colsb[i] = kRowBytes;
    c.rows[i] = kRows;
  }
  _tile_loadconfig(&c);
}

}  // namespace hark::kernels::amx
