# Copyright 2026 xmodal_ros maintainers
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
Object classes of the simulated robot, chosen so that no single sensor can tell them all apart.

The camera sees colour and shape; depth sees shape only; touch (tactile) feels softness (how far
the object conforms to the domed pads), footprint shape and surface texture; the wrist
force/torque sensor feels mass (weight while lifted) and friction (drag while the pads slide down
the object). Twins are identical in everything but one property, so the sensors listed as blind
(vision = camera and depth) cannot separate them:

| class             | shape    | colour | stiff  | mu  | kg   | texture | twin (blind sensors)    |
|-------------------|----------|--------|--------|-----|------|---------|-------------------------|
| red_foam_block    | box      | red    | soft   | 0.9 | 0.03 | smooth  | red_wood (vision)       |
| red_wood_block    | box      | red    | hard   | 0.5 | 0.09 | smooth  | red_foam (vision)       |
| green_wood_block  | box      | green  | hard   | 0.5 | 0.09 | smooth  | red_wood (touch,force)  |
| blue_rubber_ball  | sphere   | blue   | soft   | 1.0 | 0.12 | smooth  | blue_steel (vision)     |
| blue_steel_ball   | sphere   | blue   | hard   | 0.3 | 0.25 | smooth  | blue_rubber (vision)    |
| grey_steel_ball   | sphere   | grey   | hard   | 0.3 | 0.25 | smooth  | blue_steel (touch,force)|
| yellow_smooth_can | cylinder | yellow | medium | 0.4 | 0.20 | smooth  | ribbed (vision, force)  |
| yellow_ribbed_can | cylinder | yellow | medium | 0.4 | 0.20 | ribbed  | smooth (vision, force)  |

(stiff: MuJoCo contact softness; mu: sliding friction; kg: mass; each +-10 % per episode.)

What each sensor alone can separate:
  camera : {red_foam, red_wood} | green_wood | {blue_rubber, blue_steel} | grey_steel | {cans}
  depth  : {blocks} | {balls} | {cans} (plus tiny finger-closure cues on the soft classes)
  tactile: {red_wood, green_wood} | red_foam | blue_rubber | {blue_steel, grey_steel} |
           yellow_smooth | yellow_ribbed
  force  : {red_wood, green_wood} | red_foam | blue_rubber | {blue_steel, grey_steel} | {cans}
  finger joints: closure at the grip force = width minus squeeze:
           {red_wood, green_wood, cans} | {red_foam, blue_rubber} | {blue_steel, grey_steel}
  wrist IMU: payload mass as the vertical axis rings when the object lifts off (strongest for
           the steel balls and cans, weakest for red_foam), and yellow_ribbed's ribs snapping
           under the sliding pads (weak: one or two snaps per slide, beside stick-slip)
Camera + tactile (or camera + force, except the cans) separates all eight: fusion matters.

Twins share paint (same nominal colour, same matte finish) and size distribution; the can ribs are
0.3 mm high at a 6 mm pitch: too fine for the cameras and too shallow to change the grip
mechanics, but felt by the taxels as a stripe pattern that moves while the pads slide.
"""
from dataclasses import dataclass


@dataclass(frozen=True)
class ObjectClass:
    name: str
    shape: str            # 'box' | 'sphere' | 'cylinder' (MuJoCo primitive)
    size: tuple           # MuJoCo geom size (half extents / radius / radius + half height), m
    rgb: tuple            # nominal paint colour, linear 0..1
    mass: float           # kg
    friction: float       # sliding friction coefficient (the object's geom wins contacts)
    solref: tuple         # MuJoCo (timeconst s, dampratio): larger timeconst = softer
    solimp: tuple         # MuJoCo impedance (dmin, dmax, width m, midpoint, power)
    conform_m: float      # how far beyond contact the material wraps the pad (tactile footprint)
    rib_depth: float = 0.0   # texture modulation depth 0..1 of the taxel pressure (0 = smooth)
    rib_pitch_m: float = 0.006


_HARD = {'solref': (0.004, 1.0), 'solimp': (0.95, 0.99, 0.001, 0.5, 2)}
_MEDIUM = {'solref': (0.008, 1.0), 'solimp': (0.9, 0.97, 0.002, 0.5, 2)}
_SOFT = {'solref': (0.03, 1.0), 'solimp': (0.8, 0.95, 0.006, 0.5, 2)}

_BOX = (0.025, 0.025, 0.025)
_BALL = (0.028,)
_CAN = (0.026, 0.04)
_RED, _GREEN, _BLUE = (0.75, 0.1, 0.08), (0.12, 0.6, 0.15), (0.1, 0.2, 0.75)
_GREY, _YELLOW = (0.45, 0.45, 0.47), (0.85, 0.75, 0.1)

OBJECT_CLASSES = (
    ObjectClass('red_foam_block', 'box', _BOX, _RED, 0.03, 0.9, conform_m=0.004, **_SOFT),
    ObjectClass('red_wood_block', 'box', _BOX, _RED, 0.09, 0.5, conform_m=0.0005, **_HARD),
    ObjectClass('green_wood_block', 'box', _BOX, _GREEN, 0.09, 0.5, conform_m=0.0005, **_HARD),
    ObjectClass('blue_rubber_ball', 'sphere', _BALL, _BLUE, 0.12, 1.0, conform_m=0.003, **_SOFT),
    ObjectClass('blue_steel_ball', 'sphere', _BALL, _BLUE, 0.25, 0.3, conform_m=0.0003, **_HARD),
    ObjectClass('grey_steel_ball', 'sphere', _BALL, _GREY, 0.25, 0.3, conform_m=0.0003, **_HARD),
    ObjectClass('yellow_smooth_can', 'cylinder', _CAN, _YELLOW, 0.2, 0.4, conform_m=0.001,
                **_MEDIUM),
    ObjectClass('yellow_ribbed_can', 'cylinder', _CAN, _YELLOW, 0.2, 0.4, conform_m=0.001,
                rib_depth=0.8, **_MEDIUM),
)
CLASSES = tuple(c.name for c in OBJECT_CLASSES)
SHAPES = ('box', 'sphere', 'cylinder')


def object_class(name):
    """Return the ObjectClass called ``name``; the error lists the valid names."""
    for c in OBJECT_CLASSES:
        if c.name == name:
            return c
    raise ValueError(f'unknown object class {name!r}; expected one of {", ".join(CLASSES)}')
