package io.spinstream.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.assertj.core.api.Assertions.assertThat;

/** The README and the docs: no dead relative link or anchor, and every {@code ./spin} command they name exists. */
class DocsLinksTest {
    private static final Path ROOT = Path.of(".."); // tests run in the cli module's folder
    private static final Pattern LINK = Pattern.compile("\\]\\(([^)\\s]+)\\)");
    private static final Pattern COMMAND = Pattern.compile("\\./spin ([a-z][a-z0-9-]*)");

    private static List<Path> pages() throws IOException {
        List<Path> out = new ArrayList<>(List.of(ROOT.resolve("README.md")));
        try (Stream<Path> docs = Files.list(ROOT.resolve("docs"))) {
            docs.filter(p -> p.toString().endsWith(".md")).sorted().forEach(out::add);
        }
        return out;
    }

    /** GitHub's anchor of a heading: lower case, punctuation dropped, spaces as hyphens. */
    static String slug(String heading) {
        return heading.toLowerCase(Locale.ROOT).replaceAll("[^\\p{L}\\p{N} _-]", "").trim().replace(' ', '-');
    }

    private static Set<String> anchors(Path page) throws IOException {
        Set<String> out = new HashSet<>();
        for (String line : Files.readAllLines(page)) {
            if (line.startsWith("#")) {
                out.add(slug(line.replaceFirst("^#+\\s*", "")));
            }
        }
        return out;
    }

    @Test
    void everyRelativeLinkAndAnchorLeadsSomewhere() throws IOException {
        List<String> dead = new ArrayList<>();
        for (Path page : pages()) {
            Matcher m = LINK.matcher(Files.readString(page));
            while (m.find()) {
                String target = m.group(1);
                if (target.matches("^[a-z]+:.*")) {
                    continue; // http(s), mailto: not checked offline
                }
                String file = target.contains("#") ? target.substring(0, target.indexOf('#')) : target;
                String anchor = target.contains("#") ? target.substring(target.indexOf('#') + 1) : null;
                Path resolved = file.isEmpty() ? page : page.getParent().resolve(file).normalize();
                if (!Files.exists(resolved)) {
                    dead.add(page + ": " + target + " (no such file)");
                } else if (anchor != null && resolved.toString().endsWith(".md") && !anchors(resolved).contains(anchor)) {
                    dead.add(page + ": " + target + " (no such heading)");
                }
            }
        }
        assertThat(dead).as("dead links").isEmpty();
    }

    @Test
    void everySpinCommandTheDocsNameExists() throws IOException {
        Set<String> commands = new HashSet<>(new CommandLine(new SpinCommand()).getSubcommands().keySet());
        commands.addAll(List.of("test", "build")); // the launcher's own
        List<String> unknown = new ArrayList<>();
        for (Path page : pages()) {
            Matcher m = COMMAND.matcher(Files.readString(page));
            while (m.find()) {
                if (!commands.contains(m.group(1))) {
                    unknown.add(page.getFileName() + ": ./spin " + m.group(1));
                }
            }
        }
        assertThat(unknown).as("commands named in the docs that spin does not have").isEmpty();
    }
}
