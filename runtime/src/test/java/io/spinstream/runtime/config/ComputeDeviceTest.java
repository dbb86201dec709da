package io.spinstream.runtime.config;

import ai.djl.Device;
import ai.djl.engine.Engine;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.Optional;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

class ComputeDeviceTest {

    @Test
    void theDeviceFollowsTheSettingAndTheGpusTheEngineReports() {
        assertThat(new ComputeDevice("auto").resolve(0)).isEqualTo(Device.cpu());
        assertThat(new ComputeDevice("auto").resolve(2)).isEqualTo(Device.gpu(0));
        assertThat(new ComputeDevice("cpu").resolve(2)).isEqualTo(Device.cpu());
        assertThat(new ComputeDevice("cuda").resolve(1)).isEqualTo(Device.gpu(0));
        assertThat(new ComputeDevice("cuda:1").resolve(2)).isEqualTo(Device.gpu(1));
        assertThatThrownBy(() -> new ComputeDevice("cuda:2").resolve(2)).isInstanceOf(ConfigException.class)
                .hasMessageContaining("spin.device (SPIN_DEVICE) is cuda:2, but the engine reports 2 GPU(s)");
        assertThatThrownBy(() -> new ComputeDevice("cuda").resolve(0)).hasMessageContaining("CPU libtorch");
        assertThatThrownBy(() -> ServiceConfig.load(RoundKeys.all(), Map.of("SPIN_DEVICE", "gpu"), Optional.empty(), Map.of()))
                .isInstanceOf(ConfigException.class).hasMessageContaining("SPIN_DEVICE")
                .hasMessageContaining("expected auto, cpu, cuda or cuda:N, got 'gpu'");
    }

    @Test
    void onThisMachinesEngineAutoIsWhatTheEngineHas() {
        int gpus = Engine.getInstance().getGpuCount();
        assertThat(new ComputeDevice("auto").resolve()).isEqualTo(gpus > 0 ? Device.gpu(0) : Device.cpu());
        Assumptions.assumeTrue(gpus == 0, "a GPU is present");
        assertThatThrownBy(() -> new ComputeDevice("cuda").resolve()).isInstanceOf(ConfigException.class);
    }
}
