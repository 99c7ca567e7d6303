#version 450
// A soft-edged quad: its colour brightens towards one corner, its alpha fades at the rim.

layout(push_constant) uniform Scene {
    float time;
    float aspect;
    float activity;
    float quads;
} scene;

layout(location = 0) in vec2 v_uv;
layout(location = 1) in vec3 v_colour;
layout(location = 0) out vec4 out_colour;

void main() {
    vec2 d = abs(v_uv - 0.5) * 2.0;
    float rim = 1.0 - smoothstep(0.8, 1.0, max(d.x, d.y));
    vec3 colour = v_colour * (0.55 + 0.45 * v_uv.x * v_uv.y) + vec3(0.25 * scene.activity);
    out_colour = vec4(colour, 0.85 * rim);
}
