#version 450
// The animation: kQuads coloured quads orbiting the centre, each spinning at its own speed. No
// vertex buffers: the quad's corners come from gl_VertexIndex (two triangles, six vertices) and
// everything else from gl_InstanceIndex and the time, so the CPU draws it with one call.

layout(push_constant) uniform Scene {
    float time;     // seconds since start
    float aspect;   // width / height of the framebuffer
    float activity; // 0..1: how busy the engine is (the quads spin faster and glow)
    float quads;    // the instance count
} scene;

layout(location = 0) out vec2 v_uv;
layout(location = 1) out vec3 v_colour;

const vec2 kCorners[6] = vec2[](vec2(-1, -1), vec2(1, -1), vec2(1, 1), vec2(-1, -1), vec2(1, 1), vec2(-1, 1));

vec3 hue(float h) {
    return clamp(abs(mod(h * 6.0 + vec3(0, 4, 2), 6.0) - 3.0) - 1.0, 0.0, 1.0);
}

void main() {
    float i = float(gl_InstanceIndex);
    float share = i / scene.quads;
    float t = scene.time * (1.0 + 2.0 * scene.activity);
    // Two rings turning opposite ways, each quad bobbing in and out a little.
    float ring = mod(i, 2.0);
    float orbit = 0.35 + 0.25 * ring + 0.05 * sin(t * 1.7 + i);
    float angle = 6.2831853 * share + t * (ring > 0.5 ? -0.3 : 0.45);
    vec2 centre = orbit * vec2(cos(angle), sin(angle));
    float size = 0.05 + 0.03 * sin(i * 2.3) + 0.02 * scene.activity;
    float spin = t * (0.8 + fract(i * 0.618) * 2.0);
    mat2 rotate = mat2(cos(spin), sin(spin), -sin(spin), cos(spin));

    vec2 corner = kCorners[gl_VertexIndex];
    vec2 p = centre + rotate * corner * size;
    // Centred in the right half of the window: the text panel takes the left.
    gl_Position = vec4(p.x / scene.aspect + 0.45, p.y, 0.0, 1.0);
    v_uv = corner * 0.5 + 0.5;
    v_colour = hue(share + scene.time * 0.05);
}
