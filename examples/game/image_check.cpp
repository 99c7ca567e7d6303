// image_check FILE.png [MIN_COLOURS] [MIN_STDDEV]: is the screenshot a real picture? Prints its
// size, its distinct colours and the standard deviation of its luma, and fails (exit 1) when
// either is below the minimum (defaults 64 colours, 8 levels): a blank or only cleared image
// does not pass.
#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <unordered_set>
#include <vector>

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr, "usage: %s FILE.png [MIN_COLOURS] [MIN_STDDEV]\n", argv[0]);
        return 2;
    }
    size_t min_colours = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 64;
    double min_stddev = argc > 3 ? std::strtod(argv[3], nullptr) : 8.0;

    png_image image{};
    image.version = PNG_IMAGE_VERSION;
    if (!png_image_begin_read_from_file(&image, argv[1])) {
        std::fprintf(stderr, "%s: %s\n", argv[1], image.message);
        return 1;
    }
    image.format = PNG_FORMAT_RGB;
    std::vector<png_byte> rgb(PNG_IMAGE_SIZE(image));
    if (!png_image_finish_read(&image, nullptr, rgb.data(), 0, nullptr)) {
        std::fprintf(stderr, "%s: %s\n", argv[1], image.message);
        return 1;
    }
    std::unordered_set<uint32_t> colours;
    double sum = 0, sum2 = 0;
    const size_t n = size_t(image.width) * image.height;
    for (size_t i = 0; i < n; ++i) {
        const png_byte* p = &rgb[3 * i];
        colours.insert(uint32_t(p[0]) << 16 | uint32_t(p[1]) << 8 | p[2]);
        double luma = 0.2126 * p[0] + 0.7152 * p[1] + 0.0722 * p[2];
        sum += luma;
        sum2 += luma * luma;
    }
    double mean = sum / n;
    double stddev = std::sqrt(std::max(0.0, sum2 / n - mean * mean));
    bool ok = colours.size() >= min_colours && stddev >= min_stddev;
    std::printf("%s: %ux%u, %zu distinct colours, luma mean %.1f stddev %.1f: %s\n", argv[1], image.width,
                image.height, colours.size(), mean, stddev, ok ? "a picture" : "blank or flat");
    return ok ? 0 : 1;
}
