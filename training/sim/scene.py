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
The simulated workcell in MuJoCo.

Table, gantry gripper with two tactile pads, a wrist F/T sensor, a wrist IMU and finger joint
sensors (position, velocity, motor force), one object, an RGB camera and a depth camera beside it.

The vertical axis is a position servo of finite stiffness and light damping (about 8 Hz, damping
ratio 0.2 unloaded, as belt-driven gantry axes are): a payload sags it by m g / GANTRY_Z_KP and
rings it when it lifts off or lands, which the wrist IMU feels. The horizontal axes are stiff.

One compiled model serves every episode: the object body carries one geom per primitive shape and
``Sim.configure`` switches the episode's shape on, sets its size, mass, friction, stiffness and
paint, and moves the lights, so the offscreen renderers (EGL contexts, the slow part to create)
live as long as the Sim.
"""
import mujoco
import numpy as np

from xmodal_training.sim.objects import SHAPES

TIMESTEP = 0.002                 # physics step, s (the F/T rate: 500 Hz)
PAD_HALF = (0.018, 0.002, 0.018)  # pad half extents (x along the jaw, y thickness, z length), m
# The pad's skin is a spherical dome of this radius (as on many tactile fingertips): hard objects
# touch a small central patch, soft ones conform over the whole pad.
PAD_DOME_R = 0.08
OPEN_Y = 0.05                    # pad inner face |y| when the finger joint is at 0 (fully open)
FINGER_TRAVEL = 0.047            # finger joint range, m
HAND_ABOVE_PADS = 0.062          # wrist (F/T site) height above the pad centres, m
CAMERA_POS = np.array([0.3, 0.0, 0.22])
CAMERA_TARGET = np.array([0.0, 0.0, 0.05])
DEPTH_BASELINE = 0.015           # depth camera offset along the colour camera's x axis, m
HIDDEN_GROUP = 5                 # geom group the renderers leave out (inactive object shapes)
# Vertical axis servo stiffness (N/m) and damping (N s/m; the joint's damping adds 5).
GANTRY_Z_KP, GANTRY_Z_KV = 2000.0, 10.0
IMU_POS = (0.02, 0.0, 0.03)      # wrist IMU on the back of the hand plate, hand frame (z up), m


def _look_at(pos, target):
    fwd = target - pos
    fwd /= np.linalg.norm(fwd)
    x = np.cross(fwd, [0.0, 0.0, 1.0])
    x /= np.linalg.norm(x)
    return x, np.cross(x, fwd)


def pad_surface_y(x, z):
    """Return how far the pad skin lies behind its apex (m) at pad coordinates x, z."""
    return (np.square(x) + np.square(z)) / (2 * PAD_DOME_R)


def _pad_mesh(sign):
    """
    Vertices of a convex pad.

    The domed skin (apex at finger-frame y = 0, bulging towards the other finger, i.e. +y for the
    left finger when sign = -1) and a flat back.
    """
    px, py, pz = PAD_HALF
    g = np.linspace(-1, 1, 7)
    x, z = (v.ravel() for v in np.meshgrid(g * px, g * pz))
    skin = np.stack([x, sign * pad_surface_y(x, z), z], axis=1)
    back = np.array([[a * px, sign * 2 * py + sign * pad_surface_y(px, pz), b * pz]
                     for a in (-1, 1) for b in (-1, 1)])
    return ' '.join(f'{v:.6f}' for v in np.concatenate([skin, back]).ravel())


def scene_xml(max_hw):
    """MJCF text; ``max_hw`` (height, width) sizes the offscreen buffer for the largest image."""
    x_axis, y_axis = _look_at(CAMERA_POS, CAMERA_TARGET)
    axes = ' '.join(f'{v:.6f}' for v in (*x_axis, *y_axis))
    depth_pos = ' '.join(f'{v:.6f}' for v in CAMERA_POS + DEPTH_BASELINE * x_axis)
    cam_pos = ' '.join(f'{v:.6f}' for v in CAMERA_POS)
    px, py, pz = PAD_HALF
    finger = f"""
          <geom name="pad_{{side}}" type="mesh" mesh="pad_{{side}}" rgba="0.15 0.15 0.15 1"
                friction="1.0 0.005 0.0001" priority="0"/>
          <geom type="box" size="{px} 0.006 0.04" pos="0 {{finger_y}} 0.022"
                rgba="0.55 0.57 0.6 1"/>"""
    fingers = ''
    for side, sign in (('left', -1), ('right', 1)):
        body = finger.format(side=side, finger_y=sign * (2 * py + pad_surface_y(px, pz) + 0.006))
        fingers += f"""
        <body name="finger_{side}" pos="0 {sign * OPEN_Y} {-HAND_ABOVE_PADS}" gravcomp="1">
          <joint name="finger_{side}" type="slide" axis="0 {-sign} 0" range="0 {FINGER_TRAVEL}"
                 damping="4" armature="0.01"/>
          <inertial pos="0 0 0.02" mass="0.05" diaginertia="2e-5 2e-5 1e-5"/>{body}
        </body>"""
    shapes = ''.join(
        f'<geom name="object_{s}" type="{s}" size="0.02 0.02 0.02" group="{HIDDEN_GROUP}" '
        f'contype="0" conaffinity="0" condim="4" priority="1" material="paint"/>\n        '
        for s in SHAPES)
    h, w = max_hw
    return f"""
<mujoco model="xmodal_workcell">
  <compiler angle="radian"/>
  <option timestep="{TIMESTEP}" integrator="implicitfast" cone="elliptic" noslip_iterations="3"/>
  <statistic center="0 0 0.1" extent="1"/>
  <visual>
    <quality shadowsize="0" offsamples="0"/>
    <global offwidth="{w}" offheight="{h}"/>
    <map znear="0.01" zfar="8"/>
    <headlight ambient="0.3 0.3 0.3" diffuse="0.3 0.3 0.3" specular="0 0 0"/>
  </visual>
  <asset>
    <material name="paint" specular="0.15" shininess="0.2"/>
    <material name="table" specular="0.05" shininess="0.1"/>
    <mesh name="pad_left" vertex="{_pad_mesh(-1)}"/>
    <mesh name="pad_right" vertex="{_pad_mesh(1)}"/>
  </asset>
  <worldbody>
    <light name="key" pos="0.2 0.3 1.2" dir="-0.1 -0.2 -1" diffuse="0.7 0.7 0.7"
           castshadow="false" directional="false"/>
    <geom name="floor" type="plane" size="3 3 0.1" pos="0 0 -0.75" rgba="0.3 0.3 0.32 1"/>
    <geom name="table" type="box" size="0.35 0.5 0.02" pos="0 0 -0.02" material="table"
          rgba="0.6 0.5 0.38 1" friction="0.6 0.005 0.0001"/>
    <camera name="color" pos="{cam_pos}" xyaxes="{axes}" fovy="42"/>
    <camera name="depth" pos="{depth_pos}" xyaxes="{axes}" fovy="50"/>
    <body name="gantry_x" gravcomp="1">
      <joint name="x" type="slide" axis="1 0 0" range="-0.2 0.2" damping="5"/>
      <inertial pos="0 0 0.3" mass="0.5" diaginertia="1e-3 1e-3 1e-3"/>
      <body name="gantry_y" gravcomp="1">
        <joint name="y" type="slide" axis="0 1 0" range="-0.2 0.2" damping="5"/>
        <inertial pos="0 0 0.3" mass="0.5" diaginertia="1e-3 1e-3 1e-3"/>
        <body name="gantry_z" gravcomp="1">
          <joint name="z" type="slide" axis="0 0 1" range="0.0 0.3" damping="5"/>
          <inertial pos="0 0 0.1" mass="0.3" diaginertia="1e-3 1e-3 1e-3"/>
          <geom type="cylinder" size="0.012 0.15" pos="0 0 {HAND_ABOVE_PADS + 0.17}"
                contype="0" conaffinity="0" rgba="0.3 0.3 0.33 1"/>
          <body name="hand" pos="0 0 {HAND_ABOVE_PADS}" gravcomp="1">
            <site name="ft" quat="0 1 0 0" size="0.01" group="4"/>
            <site name="imu" pos="{' '.join(str(v) for v in IMU_POS)}" size="0.005" group="4"/>
            <inertial pos="0 0 0.015" mass="0.4" diaginertia="4e-4 4e-4 4e-4"/>
            <geom type="box" size="0.03 0.065 0.012" pos="0 0 0.012" rgba="0.25 0.25 0.28 1"/>
            {fingers}
          </body>
        </body>
      </body>
    </body>
    <body name="object">
      <freejoint name="object"/>
      <inertial pos="0 0 0" mass="0.1" diaginertia="1e-5 1e-5 1e-5"/>
      {shapes}
    </body>
  </worldbody>
  <actuator>
    <position name="x" joint="x" kp="3000" kv="120"/>
    <position name="y" joint="y" kp="3000" kv="120"/>
    <position name="z" joint="z" kp="{GANTRY_Z_KP}" kv="{GANTRY_Z_KV}"/>
    <motor name="finger_left" joint="finger_left" ctrlrange="-30 30"/>
    <motor name="finger_right" joint="finger_right" ctrlrange="-30 30"/>
  </actuator>
  <sensor>
    <force name="ft_force" site="ft"/>
    <torque name="ft_torque" site="ft"/>
    <accelerometer name="imu_accel" site="imu"/>
    <gyro name="imu_gyro" site="imu"/>
    <framequat name="imu_quat" objtype="site" objname="imu"/>
    <jointpos name="finger_left_pos" joint="finger_left"/>
    <jointpos name="finger_right_pos" joint="finger_right"/>
    <jointvel name="finger_left_vel" joint="finger_left"/>
    <jointvel name="finger_right_vel" joint="finger_right"/>
    <actuatorfrc name="finger_left_frc" actuator="finger_left"/>
    <actuatorfrc name="finger_right_frc" actuator="finger_right"/>
  </sensor>
</mujoco>
"""


def _inertia(shape, size, mass):
    """Principal moments of a solid primitive of ``mass`` kg."""
    if shape == 'box':
        a, b, c = (2 * s for s in size)
        return mass / 12 * np.array([b * b + c * c, a * a + c * c, a * a + b * b])
    if shape == 'sphere':
        return np.full(3, 0.4 * mass * size[0] ** 2)
    r, h = size[0], 2 * size[1]
    side = mass * (3 * r * r + h * h) / 12
    return np.array([side, side, 0.5 * mass * r * r])


def _bounds(shape, size):
    """(rbound, aabb half extents) MuJoCo uses for broad-phase collision of a resized geom."""
    if shape == 'box':
        half = np.array(size)
    elif shape == 'sphere':
        half = np.full(3, size[0])
    else:
        half = np.array([size[0], size[0], size[1]])
    return float(np.linalg.norm(half)) if shape != 'sphere' else float(size[0]), half


class Sim:
    """Model, data and the two offscreen renderers, reused across episodes."""

    def __init__(self, camera_hw, depth_hw):
        self.camera_hw, self.depth_hw = tuple(camera_hw), tuple(depth_hw)
        max_hw = (max(camera_hw[0], depth_hw[0]), max(camera_hw[1], depth_hw[1]))
        self.model = mujoco.MjModel.from_xml_string(scene_xml(max_hw))
        self.data = mujoco.MjData(self.model)
        m = self.model
        name = lambda kind, n: mujoco.mj_name2id(m, kind, n)  # noqa: E731
        self.object_body = name(mujoco.mjtObj.mjOBJ_BODY, 'object')
        self.object_geoms = {s: name(mujoco.mjtObj.mjOBJ_GEOM, f'object_{s}') for s in SHAPES}
        self.pad_geoms = [name(mujoco.mjtObj.mjOBJ_GEOM, f'pad_{s}') for s in ('left', 'right')]
        self.finger_bodies = [name(mujoco.mjtObj.mjOBJ_BODY, f'finger_{s}')
                              for s in ('left', 'right')]
        self.table_geom = name(mujoco.mjtObj.mjOBJ_GEOM, 'table')
        self.finger_qpos = [m.jnt_qposadr[name(mujoco.mjtObj.mjOBJ_JOINT, f'finger_{s}')]
                            for s in ('left', 'right')]
        self.finger_dof = [m.jnt_dofadr[name(mujoco.mjtObj.mjOBJ_JOINT, f'finger_{s}')]
                           for s in ('left', 'right')]
        self.gantry_qpos = [m.jnt_qposadr[name(mujoco.mjtObj.mjOBJ_JOINT, j)] for j in 'xyz']
        self.object_qpos = m.jnt_qposadr[name(mujoco.mjtObj.mjOBJ_JOINT, 'object')]
        self.ft_adr = m.sensor_adr[name(mujoco.mjtObj.mjOBJ_SENSOR, 'ft_force')]
        adr = lambda n: m.sensor_adr[name(mujoco.mjtObj.mjOBJ_SENSOR, n)]  # noqa: E731
        # sensordata[imu_adr:imu_adr + 10]: accelerometer (3), gyro (3), orientation (4, w first)
        self.imu_adr = adr('imu_accel')
        # sensordata[finger_adr + 2 * i + j]: i = 0 position, 1 velocity, 2 force; j = left, right
        self.finger_adr = adr('finger_left_pos')
        if adr('imu_quat') != self.imu_adr + 6 or adr('finger_right_frc') != self.finger_adr + 5:
            raise RuntimeError('scene_xml: the IMU and finger sensors must be declared in order')
        self.imu_site = name(mujoco.mjtObj.mjOBJ_SITE, 'imu')
        self.light = name(mujoco.mjtObj.mjOBJ_LIGHT, 'key')
        self.cameras = {'camera': name(mujoco.mjtObj.mjOBJ_CAMERA, 'color'),
                        'depth': name(mujoco.mjtObj.mjOBJ_CAMERA, 'depth')}
        self.scene_option = mujoco.MjvOption()
        self.scene_option.geomgroup[HIDDEN_GROUP] = 0
        self._renderers = {}
        self.shape = None

    def renderer(self, sensor):
        """
        Return the reusable Renderer for 'camera' (RGB) or 'depth' (metres).

        Created on first use.
        """
        if sensor not in self._renderers:
            h, w = self.camera_hw if sensor == 'camera' else self.depth_hw
            r = mujoco.Renderer(self.model, h, w)
            if sensor == 'depth':
                r.enable_depth_rendering()
            self._renderers[sensor] = r
        return self._renderers[sensor]

    def render(self, sensor):
        r = self.renderer(sensor)
        r.update_scene(self.data, camera=self.cameras[sensor], scene_option=self.scene_option)
        return r.render()

    def configure(self, cls, size, mass, friction, rgb, table_rgb, light_pos, light_diffuse,
                  ambient, imu_quat=(1.0, 0.0, 0.0, 0.0)):
        """
        Set every per-episode model parameter and reset the state.

        All of them, so nothing leaks between episodes.
        """
        m = self.model
        for shape, g in self.object_geoms.items():
            on = shape == cls.shape
            m.geom_contype[g] = m.geom_conaffinity[g] = int(on)
            m.geom_group[g] = 0 if on else HIDDEN_GROUP
        g = self.object_geoms[cls.shape]
        m.geom_size[g] = np.resize(np.asarray(size, dtype=float), 3)
        m.geom_rbound[g], half = _bounds(cls.shape, size)
        m.geom_aabb[g] = np.concatenate([np.zeros(3), half])
        m.geom_friction[g] = (friction, 0.005, 0.0001)
        m.geom_solref[g] = cls.solref
        m.geom_solimp[g] = cls.solimp
        m.geom_rgba[g] = (*rgb, 1.0)
        m.body_mass[self.object_body] = mass
        m.body_inertia[self.object_body] = _inertia(cls.shape, size, mass)
        m.geom_rgba[self.table_geom] = (*table_rgb, 1.0)
        m.light_pos[self.light] = light_pos
        m.light_diffuse[self.light] = light_diffuse
        m.vis.headlight.ambient[:] = ambient
        m.site_quat[self.imu_site] = imu_quat       # the IMU's mounting (w, x, y, z) in the hand
        mujoco.mj_setConst(m, self.data)
        mujoco.mj_resetData(m, self.data)
        self.shape = cls.shape
        self.object_geom = g

    def close(self):
        for r in self._renderers.values():
            r.close()
        self._renderers.clear()
