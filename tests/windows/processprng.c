/* The test environment's gap, not the product's: Rust's std (1.78+) gets random bytes from
 * ProcessPrng in bcryptprimitives.dll, which Windows 10+ has and Wine 8 does not. This one-function
 * DLL, placed beside the .exe under Wine only, answers it with RtlGenRandom (SystemFunction036). */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len) {
    while (len > 0) {
        ULONG chunk = len > 0x7fffffff ? 0x7fffffff : (ULONG)len;
        if (!SystemFunction036(data, chunk)) return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
