// pack2bit.h — 2-bit packing of nucleotide codes, declared once with a CPU
// and a CUDA variant that produce identical bytes.
//
// Input: codes in {0,1,2,3} (A,C,G,T), n of them. Output: ceil(n/4) bytes,
// base i in bits 2*(i%4)..2*(i%4)+1 of byte i/4 (little-end first); unused
// high bits of the last byte are zero. Codes > 3 are masked to their low 2 bits
// (the FASTA stream separation never passes them).
#pragma once

#include <cstddef>
#include <cstdint>

#include "engine/common/status.h"

namespace pmklc::kernels {

void Pack2BitCpu(const uint8_t* codes, size_t n, uint8_t* out);
void Unpack2BitCpu(const uint8_t* packed, size_t n, uint8_t* codes);

// CUDA variant; NotSupported without CUDA or without a GPU.
Status Pack2BitCuda(const uint8_t* codes, size_t n, uint8_t* out);

}  // namespace pmklc::kernels
