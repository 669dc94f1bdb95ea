// ISA-L's CRC functions (Debian's libisal-dev) for the Integrity target: CRC-32 and CRC-32C
// with the CPU's carry-less multiply and CRC instructions, chosen at run time.
#include <isa-l/crc.h>
