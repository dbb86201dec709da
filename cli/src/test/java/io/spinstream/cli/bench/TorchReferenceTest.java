package io.spinstream.cli.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static org.assertj.core.api.Assertions.assertThatCode;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

/** No ratio is ever printed against a PyTorch that runs on the reference BLAS. */
class TorchReferenceTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @Test
    void aReferenceOnTheReferenceBlasIsRefusedAndOpenBlasIsTaken() throws Exception {
        assertThatThrownBy(() -> TorchReference.requireOptimisedBlas(JSON.readTree(
                "{\"blas\": \"reference\", \"blas_libraries\": [\"/usr/lib/x86_64-linux-gnu/blas/libblas.so.3\"]}")))
                .hasMessageContaining("reference BLAS").hasMessageContaining("libblas.so.3")
                .hasMessageContaining("apt-get install libopenblas0-pthread");
        assertThatThrownBy(() -> TorchReference.requireOptimisedBlas(JSON.readTree("{\"torch\": \"1.13.1\"}")))
                .as("an older script that says nothing of its BLAS").hasMessageContaining("unknown BLAS");
        assertThatCode(() -> TorchReference.requireOptimisedBlas(JSON.readTree(
                "{\"blas\": \"openblas\", \"blas_libraries\": [\"/usr/lib/x86_64-linux-gnu/openblas-pthread/libblas.so.3\"]}")))
                .doesNotThrowAnyException();
    }
}
