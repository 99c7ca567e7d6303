#include <gtest/gtest.h>
#include "quant/formats.h"
