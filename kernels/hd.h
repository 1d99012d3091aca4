// hd.h — PMKLC_HD marks a function compiled for the CPU and, under nvcc,
// for CUDA devices too (one definition for both variants of a kernel).
#pragma once

#if defined(__CUDACC__)
#define PMKLC_HD __host__ __device__ __forceinline__
#else
#define PMKLC_HD inline
#endif
