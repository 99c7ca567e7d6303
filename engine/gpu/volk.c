// volk's implementation, compiled once into the library (Debian ships it as a source file).
#include <volk.c>
